import { inspect } from 'node:util';
import type { AuthFields } from '../shared/control.js';
import { typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { REDACTED } from '../shared/options.js';

/**
 * Credentials returned by an auth callback for one (re)connect; set fields override the
 * static ones.
 *
 * @example
 * const options = ConnectOptions.withAuthCallback(async (nonce) => {
 *   const auth = new Auth();
 *   auth.nkey = publicKey;
 *   auth.signature = keyPair.sign(nonce);
 *   return auth;
 * });
 */
export class Auth implements AuthFields {
  /** A user JWT; with it, `nkey` and `signature` or a `sign` callback prove the identity. */
  jwt?: string;
  /** The public NKey (`U...`) whose seed signed `signature`. */
  nkey?: string;
  /** The server nonce signed with the NKey seed (raw bytes; sent base64url-encoded). */
  signature?: Uint8Array;
  /** User name, with `password`. */
  username?: string;
  /** Password for `username`; redacted in inspect, JSON and errors. */
  password?: string;
  /** An auth token; redacted in inspect, JSON and errors. */
  token?: string;

  /** Empty, or with the given fields; fields may also be assigned afterwards. */
  constructor(init?: Partial<AuthFields>) {
    if (init) Object.assign(this, init);
  }

  /** The fields that are set, secrets redacted: what inspect and JSON show. */
  toJSON(): Record<string, unknown> {
    const shown: Record<string, unknown> = {};
    for (const key of FIELDS) {
      if (this[key] !== undefined) shown[key] = PUBLIC.has(key) ? this[key] : REDACTED;
    }
    return shown;
  }

  /** `util.inspect` shows the fields that are set, secrets redacted. */
  [inspect.custom](): string {
    return `Auth ${inspect(this.toJSON())}`;
  }
}

const FIELDS = ['jwt', 'nkey', 'signature', 'username', 'password', 'token'] as const;
/** Fields that identify but do not authenticate: shown as they are. */
const PUBLIC = new Set<string>(['nkey', 'username']);

/**
 * The fields of what an auth callback returned: an `Auth` (or a plain object with its fields),
 * each field unset or of its type. Anything else is the callback's fault, not a reason to
 * connect without credentials (as a `sign` callback's non-bytes answer is).
 *
 * @throws NatsError `'callback'` naming the field and the type found, never a value.
 */
export function authFieldsOf(value: unknown): AuthFields {
  if (value === null || typeof value !== 'object') {
    throw new NatsError('callback', `the authCallback must return an Auth, got ${typeName(value)}`);
  }
  const v = value as Record<string, unknown>;
  const fields: AuthFields = {};
  for (const key of FIELDS) {
    const field = v[key];
    if (field === undefined || field === null) continue; // unset, as JSON or a row says it
    const usable = key === 'signature' ? field instanceof Uint8Array : typeof field === 'string';
    if (!usable) {
      throw new NatsError(
        'callback',
        `the authCallback's Auth.${key} must be ${key === 'signature' ? 'a Uint8Array' : 'a string'}, got ${typeName(field)}`,
      );
    }
    (fields as Record<string, unknown>)[key] = field;
  }
  return fields;
}
