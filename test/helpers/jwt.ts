// NATS JWTs made at test time (no nsc): an operator, its accounts and their users, signed with
// nkeys.js keys, plus `.creds` text and the operator-mode nats-server config that trusts them.
//
// A JWT is base64url(header) '.' base64url(claims) '.' base64url(ed25519 signature of the first
// two parts by the issuer's key). The claim shapes follow nats-io/jwt v2, which nats-server 2.9
// decodes: `nats.type` and `nats.version: 2` select the claim kind; -1 means "no limit" (an
// absent limit decodes as 0, which for an account would mean "no subscriptions allowed").

import { createHash } from 'node:crypto';
import { createAccount, createOperator, createUser, type KeyPair } from 'nkeys.js';

const HEADER = { typ: 'JWT', alg: 'ed25519-nkey' } as const;
const NO_LIMIT = -1;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A key pair with its public key and seed as text, ready to go into claims and configs. */
export interface Identity {
  kp: KeyPair;
  publicKey: string;
  seed: string;
}

export interface Entity extends Identity {
  jwt: string;
}

export interface ClaimOptions {
  name?: string;
  /** Expiry, in seconds since the epoch (`exp`); omitted = never expires. */
  expires?: number;
  /** Issued at, in seconds since the epoch (`iat`); default now. */
  issuedAt?: number;
}

function identity(kp: KeyPair): Identity {
  return { kp, publicKey: kp.getPublicKey(), seed: decoder.decode(kp.getSeed()) };
}

function base64url(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Encodes and signs `nats` claims about `subject`, issued by `issuer`. `jti` is, as nats-io/jwt
 * makes it, the unpadded base32 SHA-512/256 of the standard claims without `jti`.
 */
export function encodeJwt(
  issuer: Identity,
  subject: string,
  nats: Record<string, unknown>,
  options: ClaimOptions = {},
): string {
  const standard: Record<string, unknown> = {
    ...(options.expires !== undefined ? { exp: options.expires } : {}),
    iat: options.issuedAt ?? nowSeconds(),
    iss: issuer.publicKey,
    name: options.name ?? subject.slice(0, 8),
    sub: subject,
  };
  const claims = { jti: jti(standard), ...standard, nats };
  const signingInput = `${base64url(JSON.stringify(HEADER))}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${base64url(issuer.kp.sign(encoder.encode(signingInput)))}`;
}

/** The decoded claims of a JWT (no signature check): for assertions in tests. */
export function decodeJwt(jwt: string): Record<string, unknown> {
  const [, claims] = jwt.split('.');
  return JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
}

/** A self-signed operator. */
export function makeOperator(options: ClaimOptions = {}): Entity {
  const id = identity(createOperator());
  const jwt = encodeJwt(id, id.publicKey, { type: 'operator', version: 2 }, options);
  return { ...id, jwt };
}

/** An account signed by `operator`, with every limit lifted and default permissions open. */
export function makeAccount(operator: Identity, options: ClaimOptions = {}): Entity {
  const id = identity(createAccount());
  const nats = {
    limits: {
      subs: NO_LIMIT,
      data: NO_LIMIT,
      payload: NO_LIMIT,
      imports: NO_LIMIT,
      exports: NO_LIMIT,
      wildcards: true,
      conn: NO_LIMIT,
      leaf: NO_LIMIT,
    },
    default_permissions: { pub: {}, sub: {} },
    type: 'account',
    version: 2,
  };
  return { ...id, jwt: encodeJwt(operator, id.publicKey, nats, options) };
}

/** A user signed by `account`, unrestricted (`-1` = no limit); `expires` makes it expire. */
export function makeUser(account: Identity, options: ClaimOptions = {}): Entity {
  const id = identity(createUser());
  const nats = {
    pub: {},
    sub: {},
    subs: NO_LIMIT,
    data: NO_LIMIT,
    payload: NO_LIMIT,
    type: 'user',
    version: 2,
  };
  return { ...id, jwt: encodeJwt(account, id.publicKey, nats, options) };
}

/** `.creds` file text as `nsc` writes it: the user JWT and seed in decorated blocks. */
export function credsFile(jwt: string, seed: string, lineEnd = '\n'): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join(lineEnd);
}

/** nats-server config trusting `operator`, with `accounts` preloaded into a MEMORY resolver. */
export function operatorConfig(operator: Entity, accounts: Entity[]): string {
  const preload = accounts.map((a) => `  ${a.publicKey}: ${a.jwt}`).join('\n');
  return [
    `operator: ${operator.jwt}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    preload,
    '}',
  ].join('\n');
}

/** An operator, one account and one user of it: the usual JWT test set-up. */
export function makeTrustChain(userOptions: ClaimOptions = {}): {
  operator: Entity;
  account: Entity;
  user: Entity;
  config: string;
} {
  const operator = makeOperator({ name: 'test-operator' });
  const account = makeAccount(operator, { name: 'test-account' });
  const user = makeUser(account, { name: 'test-user', ...userOptions });
  return { operator, account, user, config: operatorConfig(operator, [account]) };
}

function jti(standard: Record<string, unknown>): string {
  const digest = createHash('sha512-256').update(JSON.stringify(standard)).digest();
  return base32(digest);
}

// RFC 4648 base32 without padding, as Go's base32.StdEncoding.WithPadding(NoPadding).
function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1; // keep only the bits not yet written
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
