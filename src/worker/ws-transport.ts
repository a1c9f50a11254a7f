/**
 * WebSocket transport (`ws://`, `wss://`) over the `ws` package: the NATS protocol unchanged,
 * carried in binary messages whose boundaries mean nothing (the parser copes with an operation
 * split across messages as across TCP reads). `wss://` has its TLS below the WebSocket from
 * the start, with the options and name verification of `tls://` (tls.ts); per-message-deflate
 * is offered and used when the server agrees (nats-server `websocket { compression: true }`).
 */
import net from 'node:net';
import tls from 'node:tls';
import type WebSocketClass from 'ws';
import { NatsError } from '../shared/errors.js';
import { lazyPackage } from '../shared/lazy-package.js';
import type { TlsSettings } from '../shared/options.js';
import type { ServerAddress } from '../shared/servers.js';
import { connectOptions, tlsError, verifyName } from './tls.js';
import {
  type LocalAddress,
  resetOrDestroy,
  type Transport,
  type TransportFactory,
  type TransportHandlers,
} from './transport.js';
import { copyFrom } from './write-now.js';

/**
 * Bytes handed to `ws` and not yet to the kernel past which `write` says the buffer is full,
 * as a socket past its high-water mark does (`ws` itself never refuses a send).
 */
const WRITE_HIGH_WATER = 64 * 1024;

/**
 * Held bytes (see `held`) past which the socket is paused even while the session reads: they
 * sit outside the delivery backlog's byte bound.
 */
const HELD_PAUSE_BYTES = 1024 * 1024;

/** WebSocket transports; `wss://` uses `tlsSettings` as `tls://` does. */
export function wsTransports(
  local: LocalAddress,
  tlsSettings: TlsSettings | undefined,
): TransportFactory {
  return (server, handlers) => {
    const transport = new WsTransport(server, handlers);
    const ready = new Promise<void>((resolve, reject) => {
      transport.onFailure = reject;
      transport.onOpen = resolve;
    });
    transport.dial(local, tlsSettings);
    return { transport, ready };
  };
}

/**
 * The largest WebSocket message taken from a server. Not one NATS message: nats-server puts all
 * it has queued for a reader into one frame, so after this client paused reading (a slow
 * subscriber, flow-control.ts) a frame holds up to the server's max_pending (64 MiB by default,
 * raised with a large max_payload). 65 MiB (and ws's default 100 MiB) ended such connections
 * ("Max payload size exceeded") and lost what the frame held (outside probe, s24); 1 GiB keeps a
 * bound a hostile server cannot pass.
 */
const MAX_WS_MESSAGE = 1024 * 1024 * 1024;

/** The `ws` package, loaded by the first WebSocket connection (lazy-package.ts). */
const webSocket = lazyPackage<typeof WebSocketClass>('ws');

class WsTransport implements Transport {
  encrypted = false;
  /** Rejects the dial when it fails; resolves it once the WebSocket is open. */
  onFailure: ((error: NatsError) => void) | undefined;
  onOpen: (() => void) | undefined;
  private ws: WebSocketClass | null = null;
  /** The TCP (or TLS) socket under the WebSocket, once dialled. */
  private socket: net.Socket | null = null;
  private tcpConnected = false;
  private tlsSecured = false;
  private paused = false;
  /** Open, and the session not yet told: what arrives is held. */
  private opening = false;
  /** `end` sent our close frame: errors of the closing handshake are no failure. */
  private ending = false;
  /**
   * Messages `ws` had already read when we paused: it stops the socket, not its parser, so
   * they wait here until `resume` hands them on, on a later turn. Past HELD_PAUSE_BYTES the
   * socket is paused: at most that plus what `ws` had read already (one socket read, inflated).
   */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private releasing: NodeJS.Immediate | undefined;
  /** The server ended the TCP connection (after our close frame, once it read what came before). */
  private peerEnded = false;
  /** Bytes sent and not yet handed to the kernel, and whether a writer waits for 'drain'. */
  private unsent = 0;
  private drainOwed = false;
  private closedReported = false;
  /** The server's close frame came while messages read before it were still held. */
  private closeHeldBack = false;

  constructor(
    private readonly server: ServerAddress,
    private readonly handlers: TransportHandlers,
  ) {}

  dial(local: LocalAddress, tlsSettings: TlsSettings | undefined): void {
    let secure: tls.ConnectionOptions | undefined;
    try {
      secure = this.server.scheme === 'wss' ? tlsOptions(this.server, tlsSettings) : undefined;
      const WebSocket = webSocket();
      this.ws = new WebSocket(this.server.url + (this.server.query ?? ''), {
        perMessageDeflate: true,
        // A hostile server must not make `ws` inflate or buffer without a bound.
        maxPayload: MAX_WS_MESSAGE,
        createConnection: () => this.connectSocket(local, secure),
      });
    } catch (err) {
      queueMicrotask(() => this.fail(this.describe(err, tlsSettings)));
      return;
    }
    const ws = this.ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      this.encrypted = this.tlsSecured;
      // After `ws`'s own listener, which reads the chunk's frames (a close frame too) first.
      this.socket?.on('data', this.noticeServerClose);
      if (this.paused) ws.pause();
      const opened = this.onOpen;
      this.onOpen = undefined;
      this.onFailure = undefined;
      opened?.();
      // The server's INFO may come in the same read as the upgrade response, and `ws` emits it
      // at once: it waits until the session has heard of `ready` (a promise reaction).
      this.opening = true;
      setImmediate(() => {
        this.opening = false;
        this.release();
      });
    });
    ws.on('message', (data: Buffer) => this.received(data));
    ws.on('error', (err) => {
      // nats-server answers our close frame with status 1005, which `ws` calls invalid.
      if (!this.ending) this.fail(this.describe(err, tlsSettings));
    });
    ws.on('close', () => {
      if (this.onFailure) this.fail(this.describe(new Error('connection closed by the server')));
      // Closed without the server's end (terminated here): it may not have read everything.
      this.reportClosed(
        this.peerEnded ? undefined : this.describe(new Error('connection dropped')),
      );
    });
  }

  write(bytes: Uint8Array): boolean {
    return this.send(bytes);
  }

  /** One frame of a copy: `ws` keeps what it sends (compression, a busy socket) past the call. */
  writeAll(chunks: Uint8Array[]): boolean {
    return this.send(copyFrom(chunks, 0) ?? new Uint8Array(0));
  }

  pause(): void {
    this.paused = true;
    this.pauseSocket();
  }

  /** What was held goes on on a later turn, as a TCP socket resumes (never inside this call). */
  resume(): void {
    this.paused = false;
    this.releasing ??= setImmediate(() => {
      this.releasing = undefined;
      this.release();
    });
  }

  end(): void {
    const ws = this.ws;
    if (ws === null || ws.readyState === ws.CLOSED || this.ending) return;
    if (ws.readyState === ws.CONNECTING) {
      this.destroy();
      return;
    }
    this.ending = true;
    // The server's close comes after what it still sends: read (and drop) it.
    this.resume();
    // Sent after what is queued; the server answers with its own close frame, then closes.
    ws.close(1000);
  }

  destroy(): void {
    this.ws?.terminate();
    this.socket?.destroy();
  }

  abort(): void {
    if (this.socket) resetOrDestroy(this.socket);
    this.ws?.terminate();
  }

  /**
   * One WebSocket message for the chunks, as fragments of it (each is masked into a copy by
   * `ws` anyway; one message so per-message-deflate compresses them together). The socket is
   * corked so the fragments leave in one gathered write.
   */
  private send(bytes: Uint8Array): boolean {
    const ws = this.ws;
    if (ws === null || ws.readyState !== ws.OPEN) {
      this.noticeServerClose();
      return false; // no more batches: the close reports the end
    }
    const length = bytes.byteLength;
    this.unsent += length;
    const sent = () => {
      this.unsent -= length;
      if (this.drainOwed && this.unsent === 0) {
        this.drainOwed = false;
        this.handlers.drain();
      }
    };
    ws.send(bytes, { binary: true }, sent);
    if (this.unsent < WRITE_HIGH_WATER) return true;
    this.drainOwed = true;
    return false;
  }

  /**
   * The server's close frame puts `ws` in CLOSING at once, but its 'close' waits for the TCP
   * end, which the server may delay: a session told only then would hand `ws` batches it
   * refuses, counted as not sent, where they could have waited in the command ring for the next
   * connection. So the session hears of it as soon as `ws` has read the frame, as a failure:
   * the frame says nothing of what the server read (nats-server sends it as it shuts down with
   * our bytes unread, then resets), so what no PONG acknowledged counts, as for any server end.
   */
  private readonly noticeServerClose = (): void => {
    if (!this.peerClosing) return;
    // What `ws` read before the frame and holds (paused, or opening) goes on first.
    if (this.held.length > 0 || this.opening) this.closeHeldBack = true;
    else this.reportClosed(this.describe(new Error('connection closed by the server')));
  };

  /** The server's close frame came (not ours): `ws` refuses writes from now on. */
  get peerClosing(): boolean {
    const ws = this.ws;
    return ws !== null && ws.readyState === ws.CLOSING && !this.ending;
  }

  private received(data: Buffer): void {
    // A plain Uint8Array view, as the TCP transport hands on (cheaper subarrays than a Buffer's).
    const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (this.paused || this.opening || this.held.length > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.byteLength;
      if (this.heldBytes >= HELD_PAUSE_BYTES) this.pauseSocket();
    } else {
      this.handlers.data(chunk);
    }
  }

  /**
   * Hand on what was held, in order, until a chunk's delivery pauses us again; then the socket
   * reads again, unless we are paused.
   */
  private release(): void {
    while (this.held.length > 0 && !this.paused && !this.opening && !this.closedReported) {
      const chunk = this.held.shift() as Uint8Array;
      this.heldBytes -= chunk.byteLength;
      this.handlers.data(chunk);
    }
    // `ws` itself ignores both before it is open and once it is closed.
    if (!this.paused && !this.opening && this.held.length === 0) this.ws?.resume();
    if (this.closeHeldBack && this.held.length === 0 && !this.opening) this.noticeServerClose();
  }

  private pauseSocket(): void {
    this.ws?.pause();
  }

  private connectSocket(
    local: LocalAddress,
    secure: tls.ConnectionOptions | undefined,
  ): net.Socket {
    const endpoint = {
      host: this.server.host,
      port: this.server.port,
      localAddress: local.host,
      localPort: local.port,
      noDelay: true,
    };
    const socket = secure ? tls.connect({ ...secure, ...endpoint }) : net.connect(endpoint);
    socket.once('connect', () => {
      this.tcpConnected = true;
    });
    socket.once('secureConnect', () => {
      this.tlsSecured = true;
    });
    socket.once('end', () => {
      this.peerEnded = true;
    });
    this.socket = socket;
    return socket;
  }

  /**
   * Kind 'tls' for a failure of the TLS handshake under a `wss://` dial (after TCP connected:
   * an untrusted or misnamed certificate, a refused client certificate), 'io' otherwise.
   */
  private describe(err: unknown, settings?: TlsSettings): NatsError {
    if (err instanceof NatsError) return err;
    const code = (err as { code?: unknown } | undefined)?.code;
    const tlsFailure =
      this.server.scheme === 'wss' &&
      !this.encrypted &&
      this.tcpConnected &&
      (!this.tlsSecured || (typeof code === 'string' && /SSL|CERT|ALERT/.test(code)));
    if (tlsFailure) return tlsError(this.server, settings, err, this.tlsSecured);
    const message = err instanceof Error ? err.message : String(err);
    return new NatsError('io', `${this.server.url}: ${message}`, { cause: err });
  }

  private fail(error: NatsError): void {
    const pending = this.onFailure;
    this.onFailure = undefined;
    this.onOpen = undefined;
    pending?.(error);
    this.reportClosed(error);
  }

  private reportClosed(error?: NatsError): void {
    if (this.closedReported) return;
    this.closedReported = true;
    this.held = [];
    this.heldBytes = 0;
    clearImmediate(this.releasing);
    this.handlers.closed(error);
  }
}

/**
 * `tls://`'s options (tls.ts) for a socket this transport dials itself: `host` is then the
 * address dialled, so the name to verify is checked explicitly (and sent as SNI when a name).
 */
function tlsOptions(
  server: ServerAddress,
  settings: TlsSettings | undefined,
): tls.ConnectionOptions {
  const options = connectOptions(server, settings);
  const name = verifyName(server, settings);
  return {
    ...options,
    checkServerIdentity:
      options.checkServerIdentity ?? ((_host, cert) => tls.checkServerIdentity(name, cert)),
  };
}
