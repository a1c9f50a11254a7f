/**
 * Byte scanning shared by the protocol parser and the header decoder: blanks are space and
 * tab, numbers are plain ASCII digits, ops compare letters case-insensitively.
 */

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
/** More digits than any sid or size can have (and below 2^53). */
const MAX_DIGITS = 15;

export function isBlank(b: number): boolean {
  return b === SPACE || b === TAB;
}

/** True if `buf[start, end)` starts with the op `word` followed by a separator, CR, LF or the end. */
export function matchOp(buf: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  const after = start + word.length;
  if (after > end) return false;
  for (let i = 0; i < word.length; i++) {
    const b = buf[start + i];
    const w = word[i];
    // Only letters compare case-insensitively; `| 0x20` would also fold e.g. 0x0b into '+'.
    if (b !== w && (w < 0x61 || w > 0x7a || (b | 0x20) !== w)) return false;
  }
  if (after === end) return true;
  const b = buf[after];
  return b === SPACE || b === TAB || b === CR || b === LF;
}

/** Parses ASCII digits `buf[start, end)`; -1 if empty, too long or not all digits. */
export function parseUint(buf: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > MAX_DIGITS) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

export function skipBlank(buf: Uint8Array, p: number, end: number): number {
  while (p < end && isBlank(buf[p])) p++;
  return p;
}

export function trimEnd(buf: Uint8Array, start: number, end: number): number {
  while (end > start && isBlank(buf[end - 1])) end--;
  return end;
}

export function asciiBytes(word: string): Uint8Array {
  return new TextEncoder().encode(word);
}
