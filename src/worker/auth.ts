/**
 * The authentication fields of CONNECT, built per connection attempt: static credentials
 * (options, else the URL's), an NKey signature of the server nonce made here with the seed,
 * a signature made on the caller's thread (`.jwt(jwt, sign)`), and the auth callback's
 * fields, which override the static ones. Several methods may be combined.
 */
import type * as NKeys from 'nkeys.js';
import type { AuthFields, HostCallbacks } from '../shared/control.js';
import { NatsError } from '../shared/errors.js';
import { lazyPackage } from '../shared/lazy-package.js';
import type { AuthSettings } from '../shared/options.js';
import type { ServerInfo } from '../shared/server-info.js';
import type { ServerAddress } from '../shared/servers.js';
import type { CallerCalls } from './caller.js';

const encoder = new TextEncoder();
const nkeys = lazyPackage<typeof NKeys>('nkeys.js');

/** Server signatures travel as base64url without padding (the server accepts it). */
function signatureText(signature: Uint8Array): string {
  return Buffer.from(signature).toString('base64url');
}

/** The caller-thread callbacks (comlink proxies); called only when the options say they exist. */
export type CallerAuth = Required<Pick<HostCallbacks, 'signNonce' | 'authenticate'>>;

/**
 * `calls` bounds the caller's callbacks: `ms` each (the session's connection timer bounds the
 * attempt anyway), one outstanding per kind.
 */
export async function authFields(
  auth: AuthSettings,
  server: ServerAddress,
  info: ServerInfo,
  host: CallerAuth,
  calls: CallerCalls,
  ms: number,
): Promise<Record<string, unknown>> {
  const nonce = encoder.encode(info.nonce ?? '');
  const fields: Record<string, unknown> = {
    user: auth.user ?? server.user,
    pass: auth.user !== undefined ? auth.pass : server.pass,
    auth_token: auth.token ?? server.token,
    jwt: auth.jwt,
  };
  if (auth.seed !== undefined) {
    let pair: ReturnType<typeof NKeys.fromSeed>;
    try {
      pair = nkeys().fromSeed(encoder.encode(auth.seed));
    } catch (cause) {
      // Never quote the seed.
      throw new NatsError('invalidOption', 'the NKey seed is not a valid seed', { cause });
    }
    fields.nkey = pair.getPublicKey();
    if (info.nonce) fields.sig = signatureText(pair.sign(nonce));
  }
  if (auth.signOnCaller && info.nonce) {
    fields.sig = signatureText(
      await calls.answer('jwt sign callback', () => host.signNonce(nonce), ms),
    );
  }
  if (auth.authCallback) {
    const given = await calls.answer('authCallback', () => host.authenticate(nonce), ms);
    if (given) applyOverrides(fields, given);
  }
  return fields;
}

function applyOverrides(fields: Record<string, unknown>, given: AuthFields): void {
  if (given.jwt !== undefined) fields.jwt = given.jwt;
  if (given.nkey !== undefined) fields.nkey = given.nkey;
  if (given.signature !== undefined) fields.sig = signatureText(given.signature);
  if (given.username !== undefined) fields.user = given.username;
  if (given.password !== undefined) fields.pass = given.password;
  if (given.token !== undefined) fields.auth_token = given.token;
}
