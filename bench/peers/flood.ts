/**
 * Publisher peer: writes `count` pre-encoded `PUB` frames of `size` bytes to `subject` over a
 * raw socket, as fast as the socket takes them (`rate` 0) or paced at `rate` messages per
 * second. Every body is the same JSON document of `size` bytes, so a consumer can parse it as an
 * application would. Tells its parent `ready` once connected and starts at its `go`, so that
 * the parent can read its CPU time from there; once the server has everything (its PONG) it
 * stays, idle, until stopped, so that the parent can read it again at the end.
 *
 *   node dist/bench/peers/flood.js <url> <subject> <count> <size> [rate]
 */
import { once } from 'node:events';
import { exitWithParent, rawConnect } from './raw.js';

/** Bytes per socket write: large enough that the syscall cost per message is negligible. */
const CHUNK_BYTES = 64 * 1024;
/** Pacing period; each tick writes what the schedule says is due. */
const TICK_MS = 1;

const [url, subject, countText, sizeText, rateText = '0'] = process.argv.slice(2);
const count = Number(countText);
const size = Number(sizeText);
const rate = Number(rateText);

/** `{"id":12345,"kind":"tick","pad":"bbb…"}`; below its 35 bytes, a number of `size` digits. */
function jsonBody(): Buffer {
  const shell = '{"id":12345,"kind":"tick","pad":""}';
  if (size < shell.length) return Buffer.alloc(size, 0x31);
  return Buffer.from(`${shell.slice(0, -2)}${'b'.repeat(size - shell.length)}"}`, 'latin1');
}

exitWithParent();
const frame = Buffer.concat([
  Buffer.from(`PUB ${subject} ${size}\r\n`, 'latin1'),
  jsonBody(),
  Buffer.from('\r\n', 'latin1'),
]);
const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / frame.length));
const chunk = Buffer.concat(Array.from({ length: perChunk }, () => frame));

const connection = await rawConnect(url);
// Forked by a measurement (an IPC channel): wait for its go. Run by hand: start at once.
if (process.send) {
  const go = once(process, 'message');
  process.send('ready');
  await go;
}
const socket = connection.socket;
let sent = 0;

/** Writes frames until `upTo` are sent; returns false early when the socket buffer is full. */
function writeUpTo(upTo: number): boolean {
  while (sent < upTo) {
    const n = Math.min(perChunk, upTo - sent);
    sent += n;
    if (!socket.write(n === perChunk ? chunk : chunk.subarray(0, n * frame.length))) return false;
  }
  return true;
}

if (rate > 0) {
  const start = performance.now();
  while (sent < count) {
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    // Behind schedule after a slow tick: catch up at once, as a steady source would.
    writeUpTo(Math.min(count, Math.floor(((performance.now() - start) * rate) / 1000)));
  }
} else {
  while (!writeUpTo(count)) await once(socket, 'drain');
}
await connection.ping();
// Forked: stay (idle) for the parent's last reading of this process's CPU, until stopped.
if (!process.send) process.exit(0);
