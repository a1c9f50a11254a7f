/**
 * `.creds` files: a user JWT and its NKey seed, usually in decorated blocks
 *
 *   -----BEGIN NATS USER JWT-----
 *   eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ…
 *   ------END NATS USER JWT------
 *   …
 *   -----BEGIN USER NKEY SEED-----
 *   SUAM…
 *   ------END USER NKEY SEED------
 *
 * Undecorated text (a JWT line and a seed line) is accepted too; CRLF and CR line ends as well.
 * Errors never quote the text: it holds a secret.
 */
import { NatsError } from './errors.js';

export interface Credentials {
  jwt: string;
  seed: string;
}

/** Line ends: LF, CRLF, or a lone CR (old Mac editors). */
const BLOCK =
  /-{3,}[^\r\n]*BEGIN[^\r\n]*-{3,}(?:\r\n|\r|\n)\s*([^\s-][^\r\n]*?)\s*(?:\r\n|\r|\n)\s*-{3,}[^\r\n]*END[^\r\n]*-{3,}/g;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const USER_SEED_SHAPE = /^SU[A-Z2-7]{56}$/;

export function parseCredentials(text: string, source = 'credentials'): Credentials {
  if (typeof text !== 'string') {
    throw new NatsError('invalidOption', `${source} must be text, got ${typeof text}`);
  }
  const blocks = [...text.matchAll(BLOCK)].map((m) => m[1].trim());
  const candidates = blocks.length > 0 ? blocks : text.split(/\r\n|\r|\n/).map((l) => l.trim());
  const jwt = candidates.find((c) => JWT_SHAPE.test(c));
  const seed = candidates.find((c) => USER_SEED_SHAPE.test(c));
  if (jwt === undefined) {
    throw new NatsError('invalidOption', `${source}: no user JWT found`);
  }
  if (seed === undefined) {
    throw new NatsError('invalidOption', `${source}: no user NKey seed (SU…) found`);
  }
  return { jwt, seed };
}
