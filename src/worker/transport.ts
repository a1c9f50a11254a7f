/**
 * One byte stream to a server, whatever carries it. TCP, optionally upgraded in place to TLS
 * (after the server's INFO, or before it with `tlsFirst`); WebSocket plugs in behind the same
 * interface. The session sees plaintext either way: `write` takes protocol bytes and `data`
 * delivers them, so the parser, the outbound pump and the byte statistics (which count protocol
 * bytes, not TLS records) do not know whether the stream is encrypted.
 */
import net from 'node:net';
import tls from 'node:tls';
import { NatsError } from '../shared/errors.js';
import type { ServerAddress } from '../shared/servers.js';

export interface TransportHandlers {
  data(chunk: Buffer): void;
  drain(): void;
  /** The stream is gone; `error` when it failed rather than ended. Called once. */
  closed(error?: NatsError): void;
}

export interface Transport {
  /** Queue bytes; false when the kernel buffer is full (wait for `drain`). */
  write(bytes: Uint8Array): boolean;
  /**
   * Queue several chunks as one gathered write (cork/uncork: one writev); `done` runs once
   * they are handed to the kernel or the stream failed — only then may their memory change.
   */
  writeAll(chunks: Uint8Array[], done: () => void): boolean;
  /** Flush what is queued, half-close, and wait (bounded) for the peer to close. */
  end(timeoutMs: number): Promise<void>;
  destroy(): void;
  /** Stop delivering `data` (the peer's writes then wait in its buffers) until {@link resume}. */
  pause(): void;
  resume(): void;
}

/** A TCP transport that can be upgraded to TLS once, in place. */
export interface SocketTransport extends Transport {
  /**
   * Hand the connected socket to TLS and handshake. Resolves once the server's certificate is
   * verified; rejects with `describe(err)` (kind 'tls') when the handshake fails, and reports
   * the same error through `closed`. The caller's connection timer bounds it.
   */
  startTls(options: tls.ConnectionOptions, describe: (err: unknown) => NatsError): Promise<void>;
}

export interface DialOptions {
  localAddress?: string;
  localPort?: number;
}

/** Open a TCP connection; rejects with kind 'io' (refused, unreachable) — never hangs past the caller's timer. */
export function dialTcp(
  server: ServerAddress,
  options: DialOptions,
  handlers: TransportHandlers,
): { transport: SocketTransport; ready: Promise<void> } {
  const socket = net.connect({
    host: server.host,
    port: server.port,
    localAddress: options.localAddress,
    localPort: options.localPort,
    noDelay: true,
  });
  const transport = new TcpTlsTransport(server, socket, handlers);
  const ready = new Promise<void>((resolve, reject) => {
    transport.onFailure = reject;
    socket.once('connect', () => {
      transport.onFailure = undefined;
      resolve();
    });
  });
  return { transport, ready };
}

class TcpTlsTransport implements SocketTransport {
  /** The socket the session reads and writes: the TCP socket, then its TLS wrapper. */
  private socket: net.Socket;
  /** The TCP socket under a TLS wrapper (destroyed with it, kept to be sure). */
  private raw: net.Socket | null = null;
  private closedReported = false;
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

  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  writeAll(chunks: Uint8Array[], done: () => void): boolean {
    const socket = this.socket;
    if (socket.destroyed) {
      done();
      return false;
    }
    socket.cork();
    let writable = true;
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) writable = socket.write(chunks[i]);
    // Node calls the last callback after every earlier chunk, or with an error on failure.
    writable = socket.write(chunks[last], () => done());
    socket.uncork();
    return writable;
  }

  end(timeoutMs: number): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      const timer = setTimeout(() => this.destroy(), timeoutMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  destroy(): void {
    this.socket.destroy();
    this.raw?.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
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
    return new Promise<void>((resolve, reject) => {
      this.onFailure = reject;
      secure.once('secureConnect', () => {
        this.onFailure = undefined;
        this.describe = this.ioError;
        resolve();
      });
    });
  }

  private readonly ioError = (err: unknown): NatsError =>
    new NatsError('io', `${this.server.url}: ${(err as Error).message}`, { cause: err });
  private readonly onData = (chunk: Buffer) => this.handlers.data(chunk);
  private readonly onDrain = () => this.handlers.drain();
  private readonly onError = (err: Error) => this.fail(this.describe(err));
  private readonly onClose = () => {
    // A close during a dial or handshake is a failure of it, even when no 'error' came first.
    if (this.onFailure) this.fail(this.describe(new Error('connection closed by the server')));
    this.reportClosed();
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.once('close', this.onClose);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('error', this.onError);
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
