/**
 * The seam between a session and whatever carries its bytes. A session gets a
 * {@link TransportFactory} and sees only {@link Transport}: plaintext protocol bytes in and out,
 * so the parser, the outbound pump and the byte statistics (which count protocol bytes, not TLS
 * records or WebSocket frames) do not know what is underneath.
 *
 * Two shapes fit behind it: a byte stream that may be upgraded to TLS in place (TCP here:
 * `startTls`, after the server's INFO or before it with `tlsFirst`), and a message stream whose
 * encryption, if any, is below it from the start (WebSocket, `wss://`: `encrypted`, no
 * `startTls`). Each `data` chunk is some protocol bytes, not necessarily whole operations.
 * Tests plug an in-memory duplex in through the same factory (test/helpers/memory-transport.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import { NatsError } from '../shared/errors.js';
import type { WorkerOptions } from '../shared/options.js';
import type { ServerAddress } from '../shared/servers.js';
import { copyFrom, writeNow } from './write-now.js';
import { wsTransports } from './ws-transport.js';

export interface TransportHandlers {
  /** Protocol bytes, valid until this call returns (a plain Uint8Array, never a Buffer). */
  data(chunk: Uint8Array): void;
  /** The write buffer emptied after a write returned false. */
  drain(): void;
  /** The stream is gone; `error` when it failed rather than ended. Called once. */
  closed(error?: NatsError): void;
}

export interface Transport {
  /** Queue bytes; false when the write buffer is full (wait for `drain`). */
  write(bytes: Uint8Array): boolean;
  /**
   * Write several chunks as one. Their memory may change as soon as this returns (views of the
   * command ring): what the transport cannot hand to the kernel at once, it copies, so no
   * socket holds ring space past its session. False as for `write`.
   */
  writeAll(chunks: Uint8Array[]): boolean;
  /**
   * Stop delivering `data` until `resume()`. What the peer sends meanwhile waits in the
   * transport's and the kernel's buffers, then in the peer's (flow control, not loss).
   */
  pause(): void;
  resume(): void;
  /** The bytes below the protocol are encrypted (after `startTls`, or `wss://` from the start). */
  readonly encrypted: boolean;
  /**
   * Present on a transport that can be upgraded to TLS in place. Hands the connection to TLS
   * and handshakes; resolves once the server's certificate is verified; rejects with
   * `describe(err)` (kind 'tls') when the handshake fails, and reports the same error through
   * `closed`. The caller's connection timer bounds it.
   */
  startTls?(options: tls.ConnectionOptions, describe: (err: unknown) => NatsError): Promise<void>;
  /**
   * Flush what is queued and half-close. Reading goes on (resumed if paused) until the peer
   * closes its side, which `closed` reports: without an error once the peer has read our end,
   * so everything before it; with one otherwise.
   */
  end(): void;
  /**
   * The peer has begun to close (a WebSocket close frame) and writes would be refused: the
   * pump leaves commands in the ring for the next connection. Absent: never (TCP).
   */
  readonly peerClosing?: boolean;
  /** Drop the connection now (a failure): what the kernel still holds may or may not go. */
  destroy(): void;
  /**
   * Give up on the connection: what the kernel still holds for the peer is discarded (a TCP
   * reset where the transport can), so it is certainly not delivered later. `closed` follows.
   */
  abort(): void;
}

/**
 * Opens a transport to `server`. `ready` resolves once it is open and rejects (kind 'io':
 * refused, unreachable) when it cannot be; the session's connection timer bounds it and
 * destroys `transport` on expiry.
 */
export type TransportFactory = (
  server: ServerAddress,
  handlers: TransportHandlers,
) => { transport: Transport; ready: Promise<void> };

/** WebSocket for `ws://` and `wss://` servers, TCP for the others (a pool never mixes them). */
export function schemeTransports(options: WorkerOptions): TransportFactory {
  const tcp = tcpTransports(options.localAddress);
  const ws = wsTransports(splitLocalAddress(options.localAddress), options.tls);
  return (server, handlers) =>
    server.scheme === 'ws' || server.scheme === 'wss'
      ? ws(server, handlers)
      : tcp(server, handlers);
}

/** The local end to bind a connection to, if any. */
export interface LocalAddress {
  host?: string;
  port?: number;
}

/**
 * Bytes per socket read of a plain TCP connection. Reads go into one buffer per connection
 * (net's `onread`), reused for every read: a stream allocates a 64 KiB buffer per read instead,
 * whose external memory kept the worker's collector busy at a flood's ~20 reads per ms.
 */
const READ_BUFFER_BYTES = 64 * 1024;

/** TCP (upgradable to TLS), bound to `localAddress` (`addr`, `addr:port`, `[v6]:port`) if set. */
function tcpTransports(localAddress: string | undefined): TransportFactory {
  const { host, port } = splitLocalAddress(localAddress);
  return (server, handlers) => {
    const reads = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    // Set once the transport exists; net calls it only after 'connect'.
    let read: (bytes: number) => void = () => {};
    const socket = net.connect({
      host: server.host,
      port: server.port,
      localAddress: host,
      localPort: port,
      noDelay: true,
      onread: {
        buffer: reads,
        callback: (bytes) => {
          read(bytes);
          return true; // go on reading (pause() stops it)
        },
      },
    });
    const transport = new TcpTlsTransport(server, socket, handlers);
    read = (bytes) => transport.plainRead(reads.buffer, reads.byteOffset, bytes);
    const ready = new Promise<void>((resolve, reject) => {
      transport.onFailure = reject;
      socket.once('connect', () => {
        transport.onFailure = undefined;
        resolve();
      });
    });
    return { transport, ready };
  };
}

/** `addr`, `addr:port` or `[v6]:port` → address and port. */
function splitLocalAddress(value: string | undefined): LocalAddress {
  if (!value) return {};
  const v6 = /^\[(.+)\](?::(\d+))?$/.exec(value);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : undefined };
  const parts = value.split(':');
  if (parts.length === 2) return { host: parts[0], port: Number(parts[1]) };
  return { host: value };
}

class TcpTlsTransport implements Transport {
  /** The socket the session reads and writes: the TCP socket, then its TLS wrapper. */
  private socket: net.Socket;
  /** The TCP socket under a TLS wrapper (destroyed with it, kept to be sure). */
  private raw: net.Socket | null = null;
  private closedReported = false;
  private paused = false;
  /** The peer ended its side (its FIN): it read everything we sent before ours. */
  private peerEnded = false;
  encrypted = false;
  /** Rejects whatever is pending (dial or handshake) when the stream fails first. */
  onFailure: ((error: NatsError) => void) | undefined;
  /** Turns a socket error into the error to report: 'io', or 'tls' during a handshake. */
  private describe: (err: unknown) => NatsError;

  constructor(
    private readonly server: ServerAddress,
    socket: net.Socket,
    private readonly handlers: TransportHandlers,
  ) {
    this.describe = this.ioError;
    this.socket = socket;
    this.attach(socket);
  }

  /**
   * `bytes` were read into the connection's read buffer (at `offset` of `buffer`). Passed on
   * only while TLS has not taken the socket over: its records are read through the TLS socket.
   */
  plainRead(buffer: ArrayBuffer, offset: number, bytes: number): void {
    if (this.raw === null) this.handlers.data(new Uint8Array(buffer, offset, bytes));
  }

  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  writeAll(chunks: Uint8Array[]): boolean {
    const socket = this.socket;
    if (socket.destroyed) return false;
    if (this.raw !== null) {
      // TLS encrypts a copy.
      const copy = copyFrom(chunks, 0);
      return copy === null || socket.write(copy);
    }
    // Plain TCP writes what the kernel takes from the chunks themselves.
    const queuedBefore = socket.writableLength > 0;
    const rest = writeNow(socket, chunks);
    if (rest === null) return true;
    // The kernel took only part, so its buffer is full: stop until the rest is written, rather
    // than copy the next batches behind it (the chunks of a write into a full socket are
    // copied whole). Node emits 'drain' only after a write that returned false.
    let drainOnDone = false;
    const writable = socket.write(rest, (error) => {
      if (drainOnDone && !error) this.handlers.drain();
    });
    if (queuedBefore) return writable;
    drainOnDone = writable;
    return false;
  }

  // A paused socket stops reading from the kernel once its own buffer is full (readStop), so the
  // server's sends back up in TCP's window and then in the server.
  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket.resume();
  }

  end(): void {
    if (this.socket.destroyed) return;
    // The peer's end comes after what it still sends: read (and drop) it, or its sends back up.
    this.resume();
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
    this.raw?.destroy();
  }

  abort(): void {
    resetOrDestroy(this.raw ?? this.socket);
    this.socket.destroy();
  }

  startTls(options: tls.ConnectionOptions, describe: (err: unknown) => NatsError): Promise<void> {
    if (this.raw !== null) return Promise.reject(new Error('transport is already TLS'));
    const raw = this.socket;
    this.detach(raw);
    // The TLS socket now owns the connection and reports its failures; an error surfacing on the
    // TCP socket as well must not become an unhandled 'error' event.
    // (Its close reaches us as the TLS socket's close.)
    raw.on('error', () => {});
    this.raw = raw;
    this.describe = describe;
    let secure: tls.TLSSocket;
    try {
      secure = tls.connect({ ...options, socket: raw });
    } catch (err) {
      return Promise.reject(describe(err)); // an option Node refuses; the caller destroys us
    }
    this.socket = secure;
    this.attach(secure);
    if (this.paused) secure.pause();
    return new Promise<void>((resolve, reject) => {
      this.onFailure = reject;
      secure.once('secureConnect', () => {
        this.onFailure = undefined;
        this.describe = this.ioError;
        this.encrypted = true;
        resolve();
      });
    });
  }

  private readonly ioError = (err: unknown): NatsError =>
    new NatsError('io', `${this.server.url}: ${(err as Error).message}`, { cause: err });
  // A plain Uint8Array view: the parser's and the inbound side's subarrays of it are cheaper
  // than a Buffer's (no FastBuffer per slice).
  private readonly onData = (chunk: Buffer) =>
    this.handlers.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  private readonly onDrain = () => this.handlers.drain();
  private readonly onError = (err: Error) => this.fail(this.describe(err));
  private readonly onEnd = () => {
    this.peerEnded = true;
  };
  private readonly onClose = () => {
    // A close during a dial or handshake is a failure of it, even when no 'error' came first.
    if (this.onFailure) this.fail(this.describe(new Error('connection closed by the server')));
    // Closed without the peer's end (destroyed here): it may not have read everything.
    this.reportClosed(this.peerEnded ? undefined : this.describe(new Error('connection dropped')));
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.once('end', this.onEnd);
    socket.once('close', this.onClose);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('error', this.onError);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
  }

  private fail(error: NatsError): void {
    const pending = this.onFailure;
    this.onFailure = undefined;
    pending?.(error);
    this.reportClosed(error);
  }

  private reportClosed(error?: NatsError): void {
    if (this.closedReported) return;
    this.closedReported = true;
    this.handlers.closed(error);
  }
}

/**
 * Close `socket` with a TCP reset, so that what its kernel buffers hold is discarded rather than
 * maybe delivered later; a socket without a TCP handle of its own (TLS made by tls.connect) is
 * destroyed instead.
 */
export function resetOrDestroy(socket: net.Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
