import { inspect } from 'node:util';
import type { AuthFields } from '../shared/control.js';
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

/** The plain fields of whatever the callback returned (comlink clones data, not classes). */
export function authFieldsOf(value: unknown): AuthFields {
  if (value === null || typeof value !== 'object') return {};
  const v = value as Record<string, unknown>;
  const fields: AuthFields = {};
  if (typeof v.jwt === 'string') fields.jwt = v.jwt;
  if (typeof v.nkey === 'string') fields.nkey = v.nkey;
  if (v.signature instanceof Uint8Array) fields.signature = v.signature;
  if (typeof v.username === 'string') fields.username = v.username;
  if (typeof v.password === 'string') fields.password = v.password;
  if (typeof v.token === 'string') fields.token = v.token;
  return fields;
}
