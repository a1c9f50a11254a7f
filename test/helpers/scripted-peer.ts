// A fake NATS server driven by a per-connection script, for the cases a real nats-server will
// not produce: malformed bytes, partial frames, stalls, abrupt closes.

import { once } from 'node:events';
import net from 'node:net';

export interface PeerConnection {
  socket: net.Socket;
  /** 0 for the first connection the peer accepted, 1 for the next, and so on. */
  index: number;
  /** CRLF-split lines the client sent, without the CRLF; ends when the socket closes. */
  lines(): AsyncIterableIterator<string>;
  /**
   * The next line the client sent that matches `predicate`; lines before it are consumed.
   * Rejects after `timeoutMs` (default 5 s) or when the socket closes first.
   */
  nextLine(predicate?: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Writes raw text or bytes; a no-op once the socket is gone. */
  send(text: string | Uint8Array): void;
}

export interface ScriptedPeer {
  url: string;
  port: number;
  connections: PeerConnection[];
  /**
   * Destroys every socket and closes the listener. Rejects with the first error a script threw
   * before close() was called, so a broken script fails the test instead of vanishing.
   */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const DEFAULT_LINE_TIMEOUT_MS = 5_000;
const SKIPPED_IN_ERROR = 10;
const CRLF = Buffer.from('\r\n');

/** Listens on a free loopback port and runs `onConnection` for every client that connects. */
export async function startScriptedPeer(
  onConnection: (conn: PeerConnection) => void | Promise<void>,
): Promise<ScriptedPeer> {
  const connections: PeerConnection[] = [];
  const sockets = new Set<net.Socket>();
  const scripts: Promise<void>[] = [];
  let closing = false;
  let scriptError: unknown;

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A client that resets the connection must not crash the test process.
    socket.on('error', () => {});
    const conn = new Connection(socket, connections.length);
    connections.push(conn);
    const script = (async () => onConnection(conn))().catch((err: unknown) => {
      if (!closing && scriptError === undefined) {
        scriptError = new Error(`scripted peer: script for connection ${conn.index} failed`, {
          cause: err,
        });
      }
      socket.destroy();
    });
    scripts.push(script);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    url: `nats://${HOST}:${port}`,
    port,
    connections,
    close() {
      closed ??= (async () => {
        closing = true;
        const listenerClosed = new Promise((resolve) => server.close(resolve));
        for (const socket of sockets) socket.destroy();
        await listenerClosed;
        await Promise.all(scripts);
        if (scriptError !== undefined) throw scriptError;
      })();
      return closed;
    },
  };
}

/**
 * What nats-server does when a client connects: INFO (`info` overrides its defaults), then the
 * client's CONNECT and PING, answered with PONG. Resolves once the client is connected.
 */
export async function handshake(
  conn: PeerConnection,
  info: Record<string, unknown> = {},
): Promise<void> {
  conn.send(infoLine(info));
  await conn.nextLine((l) => l.startsWith('CONNECT '));
  await conn.nextLine((l) => l === 'PING');
  conn.send('PONG\r\n');
}

/** An `INFO {...}\r\n` line as nats-server 2.9.10 would send it; `fields` override defaults. */
export function infoLine(fields: Record<string, unknown> = {}): string {
  const info = {
    server_id: 'NSCRIPTEDPEER0000000000000000000000000000000000000000000',
    server_name: 'scripted-peer',
    version: '2.9.10',
    proto: 1,
    go: 'go1.19.8',
    host: HOST,
    port: 4222,
    headers: true,
    max_payload: 1048576,
    client_id: 1,
    client_ip: HOST,
    ...fields,
  };
  return `INFO ${JSON.stringify(info)}\r\n`;
}

type Waiter = (line: string | undefined) => void;

/**
 * What the client sent a peer, split into lines for its script; the peer feeds it the bytes
 * and says when the connection is gone. Shared by this TCP peer and the in-memory one
 * (memory-transport.ts).
 */
export class PeerLines {
  private pending: Buffer = Buffer.alloc(0);
  private readonly queue: string[] = [];
  private readonly waiters: Waiter[] = [];
  private ended = false;

  constructor(readonly index: number) {}

  async *lines(): AsyncIterableIterator<string> {
    for (;;) {
      const line = await this.take();
      if (line === undefined) return;
      yield line;
    }
  }

  async nextLine(
    predicate: (line: string) => boolean = () => true,
    timeoutMs = DEFAULT_LINE_TIMEOUT_MS,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const skipped: string[] = [];
    for (;;) {
      const line = await this.take(deadline - Date.now());
      if (line === undefined) {
        const seen = skipped.length ? `; last skipped: ${JSON.stringify(skipped)}` : '';
        const why = this.ended ? 'the connection closed' : `${timeoutMs} ms passed`;
        throw new Error(`connection ${this.index}: no matching line before ${why}${seen}`);
      }
      if (predicate(line)) return line;
      // Only the most recent few go into the error message; a flood would drown it.
      if (skipped.push(line) > SKIPPED_IN_ERROR) skipped.shift();
    }
  }

  /** Bytes the client sent. */
  protected receive(chunk: Buffer): void {
    // Split on bytes and decode whole lines, so a UTF-8 character cut by a chunk stays intact.
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    for (
      let end = this.pending.indexOf(CRLF);
      end !== -1;
      end = this.pending.indexOf(CRLF, start)
    ) {
      this.deliver(this.pending.toString('utf8', start, end));
      start = end + CRLF.length;
    }
    this.pending = this.pending.subarray(start);
  }

  /** The connection is gone: no more lines; waiting scripts are told. */
  protected end(): void {
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private deliver(line: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(line);
    else this.queue.push(line);
  }

  // The next unread line, or undefined once the socket has closed or `timeoutMs` has passed.
  private take(timeoutMs = Number.POSITIVE_INFINITY): Promise<string | undefined> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.ended || timeoutMs <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push(waiter);
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }
}

class Connection extends PeerLines implements PeerConnection {
  constructor(
    readonly socket: net.Socket,
    index: number,
  ) {
    super(index);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.once('close', () => this.end());
  }

  send(text: string | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }
}
