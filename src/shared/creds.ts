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
const LINE_END = /\r\n|\r|\n/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const USER_SEED_SHAPE = /^SU[A-Z2-7]{56}$/;

export function parseCredentials(text: string, source = 'credentials'): Credentials {
  if (typeof text !== 'string') {
    throw new NatsError('invalidOption', `${source} must be text, got ${typeof text}`);
  }
  const lines = text.split(LINE_END).map((l) => l.trim());
  const blocks = decoratedBlocks(lines);
  const candidates = blocks.length > 0 ? blocks : lines;
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

/**
 * The one-line contents of `-----BEGIN …-----` / `-----END …-----` blocks (blank lines around
 * the content allowed). Plain string tests, line by line: a regular expression for the whole
 * block backtracked cubically on a long run of dashes (10,000 took minutes).
 */
function decoratedBlocks(lines: string[]): string[] {
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!isMarker(lines[i], 'BEGIN')) continue;
    const content = nextFilled(lines, i + 1);
    const end = nextFilled(lines, content + 1);
    if (
      content < lines.length &&
      !lines[content].startsWith('-') &&
      isMarker(lines[end] ?? '', 'END')
    ) {
      blocks.push(lines[content]);
      i = end;
    }
  }
  return blocks;
}

/** A `---…word…---` marker line (already trimmed; '' past the last line). */
function isMarker(line: string, word: string): boolean {
  return line.startsWith('---') && line.endsWith('---') && line.includes(word);
}

/** Index of the first non-empty line at or after `from` (`lines.length` if none). */
function nextFilled(lines: string[], from: number): number {
  let i = from;
  while (i < lines.length && lines[i] === '') i++;
  return i;
}
