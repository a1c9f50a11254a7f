/**
 * The ceiling column: a bare NATS connection on the main thread, as simple as it sounds. PUB
 * lines are built once per subject and size, frames are copied into a batch that goes to the
 * socket in one write (at the end of the current task, or when full), received bytes go through
 * the shared Parser and each MSG's payload to the callback as a view. Requests share one
 * wildcard inbox. Over TLS, node:tls decrypts on the main thread: that is the point of the
 * column, what any client that keeps its socket on the caller's thread pays.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { encodeConnect } from '../../src/shared/protocol/encode.js';
import { type MsgView, Parser } from '../../src/shared/protocol/parser.js';
import { type BenchClient, failure, REQUEST_TIMEOUT_MS } from './types.js';

/** Bytes per socket write; a frame larger than this is written on its own. */
const BATCH_BYTES = 64 * 1024;
/** Bytes queued in the socket past which publish() asks the caller to wait for writable(). */
const HIGH_WATER_BYTES = 1024 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
const INBOX_SID = 1;

interface PendingRequest {
  resolve(payload: Uint8Array): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export async function connectRaw(url: string, ca?: string): Promise<RawClient> {
  const target = new URL(url);
  const tcp = net.connect({ host: target.hostname, port: Number(target.port || 4222) });
  tcp.setNoDelay(true);
  await once(tcp, 'connect');
  // Over TLS the server's INFO comes in plain first; the upgrade follows it.
  const { socket, info } = ca
    ? await upgrade(tcp, target.hostname, ca)
    : { socket: tcp, info: undefined };
  const client = new RawClient(socket, info);
  const fields: Record<string, unknown> = {
    verbose: false,
    pedantic: false,
    lang: 'raw-bench',
    tls_required: Boolean(ca),
  };
  if (target.username) fields.auth_token = decodeURIComponent(target.username);
  socket.write(encodeConnect(fields));
  await client.flush();
  return client;
}

/** Reads the plain INFO, then starts TLS over the same connection. */
async function upgrade(
  tcp: net.Socket,
  host: string,
  ca: string,
): Promise<{ socket: tls.TLSSocket; info: Buffer }> {
  const seen: Buffer[] = [];
  while (!Buffer.concat(seen).includes('\r\n')) {
    const [chunk] = (await once(tcp, 'data')) as [Buffer];
    seen.push(chunk);
  }
  tcp.pause();
  const secure = tls.connect({
    socket: tcp,
    ca: readFileSync(ca),
    host,
    servername: net.isIP(host) ? undefined : host,
  });
  await once(secure, 'secureConnect');
  return { socket: secure, info: Buffer.concat(seen) };
}

export class RawClient implements BenchClient {
  readonly name = 'raw' as const;
  private readonly fail = failure();
  readonly failed = this.fail.promise;
  private readonly parser: Parser;
  /** PUB lines by subject, then payload size. */
  private readonly lines = new Map<string, Map<number, Buffer>>();
  private lastSubject = '';
  private lastSize = -1;
  private lastLine: Buffer = Buffer.alloc(0);
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private flushQueued = false;
  private readonly handlers: ((payload: Uint8Array) => void)[] = [];
  private nextSid = INBOX_SID + 1;
  private readonly pongs: (() => void)[] = [];
  private readonly inbox = `_INBOX.${Math.random().toString(36).slice(2)}.`;
  private inboxReady = false;
  private nextToken = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private closing = false;
  /** The server's limit, from its INFO: a larger payload is refused here, as clients do. */
  private maxPayload = Number.POSITIVE_INFINITY;

  /** The socket chunk being parsed: replies in it are handed out as views of it. */
  private chunk: Uint8Array = new Uint8Array(0);

  /** `info`: the INFO read before a TLS upgrade, parsed here as if it had come through it. */
  constructor(
    private readonly socket: net.Socket,
    info?: Buffer,
  ) {
    this.parser = new Parser({
      onMsg: (msg) => this.onMsg(msg),
      onInfo: (fields) => {
        if (typeof fields.max_payload === 'number') this.maxPayload = fields.max_payload;
      },
      onPing: () => this.send('PONG\r\n'),
      onPong: () => this.pongs.shift()?.(),
      onOk() {},
      onErr: (message) => this.broken(new Error(`raw: server -ERR '${message}'`)),
    });
    socket.on('data', (chunk: Buffer) => {
      this.chunk = chunk;
      try {
        this.parser.push(chunk);
      } catch (error) {
        this.broken(new Error(`raw: ${(error as Error).message}`));
      }
    });
    socket.on('error', (error) => this.broken(new Error(`raw: ${error.message}`)));
    socket.on('close', () => {
      if (!this.closing) this.broken(new Error('raw: connection lost during the measurement'));
    });
    if (info) {
      this.chunk = info;
      this.parser.push(info);
    }
    socket.resume();
  }

  publish(subject: string, payload: Uint8Array): boolean {
    this.checkSize(payload);
    this.append(this.lineFor(subject, payload.length), payload);
    return this.socket.writableLength < HIGH_WATER_BYTES;
  }

  writable(): Promise<void> {
    if (this.socket.writableLength < HIGH_WATER_BYTES) return Promise.resolve();
    return Promise.race([once(this.socket, 'drain').then(() => {}), this.failed]);
  }

  subscribe(subject: string, onMessage: (size: number) => void, json?: boolean): void {
    const decoder = new TextDecoder();
    this.subscribePayloads(
      subject,
      json
        ? (payload) => {
            JSON.parse(decoder.decode(payload));
            onMessage(payload.length);
          }
        : (payload) => onMessage(payload.length),
    );
  }

  /** Each message's payload, a view valid during the call (this client's own tests read it). */
  subscribePayloads(subject: string, onPayload: (payload: Uint8Array) => void): void {
    const sid = this.nextSid++;
    this.handlers[sid] = onPayload;
    this.send(`SUB ${subject} ${sid}\r\n`);
  }

  request(subject: string, payload: Uint8Array): Promise<Uint8Array> {
    if (!this.inboxReady) {
      this.inboxReady = true;
      this.send(`SUB ${this.inbox}* ${INBOX_SID}\r\n`);
    }
    this.checkSize(payload);
    const token = this.nextToken++;
    const line = Buffer.from(
      `PUB ${subject} ${this.inbox}${token} ${payload.length}\r\n`,
      'latin1',
    );
    this.append(line, payload);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`raw: no reply within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(token, { resolve, reject, timer });
    });
  }

  flush(): Promise<void> {
    const pong = new Promise<void>((resolve) => this.pongs.push(resolve));
    this.send('PING\r\n');
    return Promise.race([pong, this.failed]);
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return; // broken: `failed` has said why
    await this.flush();
    this.closing = true;
    const closed = once(this.socket, 'close');
    this.socket.end();
    await closed;
  }

  private onMsg(msg: MsgView): void {
    const payload = msg.buf.subarray(msg.payloadStart, msg.payloadEnd);
    if (msg.sid !== INBOX_SID) {
      this.handlers[msg.sid]?.(payload);
      return;
    }
    // The token is the digits after the inbox prefix (ASCII, so one byte per character).
    let token = 0;
    for (let i = msg.subjectStart + this.inbox.length; i < msg.subjectEnd; i++) {
      token = token * 10 + msg.buf[i] - 0x30;
    }
    const request = this.pending.get(token);
    if (!request) return; // timed out already
    this.pending.delete(token);
    clearTimeout(request.timer);
    // A view of a socket chunk costs no copy (Node never reuses a 'data' chunk; nats.js's
    // msg.data is such a view too); a reply the parser assembled in its own buffer, which it
    // reuses, is copied. (Buffer's slice() would be a view: Uint8Array's copies.)
    request.resolve(msg.buf === this.chunk ? payload : Uint8Array.prototype.slice.call(payload));
  }

  private checkSize(payload: Uint8Array): void {
    if (payload.length > this.maxPayload) {
      throw new Error(
        `raw: a payload of ${payload.length} bytes exceeds the server's max_payload ${this.maxPayload}`,
      );
    }
  }

  private lineFor(subject: string, size: number): Buffer {
    // A publishing loop repeats its subject and size: skip the maps then.
    if (subject === this.lastSubject && size === this.lastSize) return this.lastLine;
    let bySize = this.lines.get(subject);
    if (!bySize) {
      bySize = new Map();
      this.lines.set(subject, bySize);
    }
    let line = bySize.get(size);
    if (!line) {
      line = Buffer.from(`PUB ${subject} ${size}\r\n`, 'latin1');
      bySize.set(size, line);
    }
    this.lastSubject = subject;
    this.lastSize = size;
    this.lastLine = line;
    return line;
  }

  private send(text: string): void {
    this.append(Buffer.from(text, 'latin1'));
  }

  /** Copies `line` (and `payload` with its CRLF) into the batch, which goes out at the end of the task. */
  private append(line: Buffer, payload?: Uint8Array): void {
    const need = line.length + (payload ? payload.length + CRLF.length : 0);
    if (this.used + need > BATCH_BYTES) this.writeBatch();
    if (need > BATCH_BYTES) {
      this.socket.write(payload ? Buffer.concat([line, payload, CRLF]) : line);
      return;
    }
    // set() and the CRLF bytes by hand: about twice as fast as Buffer.copy for short frames.
    const batch = this.batch;
    batch.set(line, this.used);
    this.used += line.length;
    if (payload) {
      batch.set(payload, this.used);
      this.used += payload.length;
      batch[this.used++] = 0x0d;
      batch[this.used++] = 0x0a;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        this.writeBatch();
      });
    }
  }

  private writeBatch(): void {
    if (this.used === 0) return;
    this.socket.write(this.batch.subarray(0, this.used));
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.used = 0;
  }

  private broken(error: Error): void {
    this.fail.reject(error);
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this.pending.clear();
    this.socket.destroy();
  }
}
