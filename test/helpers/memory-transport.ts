// An in-memory duplex behind the worker's transport seam (src/worker/transport.ts), with a
// scripted NATS peer at its other end: unit tests run the session and the connection loop
// with no socket and no server. Like a socket, each side hears the other on a later turn of
// the event loop, never inside the call that wrote.

import { NatsError } from '../../src/shared/errors.js';
import type { ServerAddress } from '../../src/shared/servers.js';
import type { Transport, TransportFactory, TransportHandlers } from '../../src/worker/transport.js';
import { PeerLines } from './scripted-peer.js';

/** How the client ended a connection: a graceful end (close) or a destroy (failure, timeout). */
export type ClientEnd = 'end' | 'destroy';

/** The server side of one in-memory connection. */
export class MemoryPeer extends PeerLines {
  /** Settles when the client ends its side. */
  readonly clientEnded: Promise<ClientEnd>;
  /** What the peer sent that the client has not been handed yet (it paused, or the next turn). */
  private readonly toClient: Buffer[] = [];
  private flushing = false;
  private gone = false;
  private clientPaused = false;
  /** stall(): what the client writes waits here, and its writes say the buffer is full. */
  private stalled = false;
  private readonly held: Buffer[] = [];
  private endedBy!: (how: ClientEnd) => void;

  constructor(
    index: number,
    readonly server: ServerAddress,
    private readonly handlers: TransportHandlers,
  ) {
    super(index);
    this.clientEnded = new Promise((resolve) => {
      this.endedBy = resolve;
    });
  }

  /** The client stopped reading (Transport.pause) and has not resumed. */
  get paused(): boolean {
    return this.clientPaused;
  }

  /**
   * Stop reading what the client writes, as a server whose socket does not drain: its writes
   * wait ({@link heldBytes}) and return false, as `socket.write` past its buffer does.
   */
  stall(): void {
    this.stalled = true;
  }

  /** Read again: what waited arrives, then the client hears 'drain'. */
  unstall(): void {
    this.stalled = false;
    for (const bytes of this.held.splice(0)) setImmediate(() => this.receive(bytes));
    setImmediate(() => {
      if (!this.gone) this.handlers.drain();
    });
  }

  /** Bytes the client wrote while stalled, not yet read. */
  get heldBytes(): number {
    let bytes = 0;
    for (const held of this.held) bytes += held.length;
    return bytes;
  }

  /** Bytes to the client; nothing once the connection is gone. */
  send(text: string | Uint8Array): void {
    if (this.gone) return;
    this.toClient.push(Buffer.from(text));
    this.flushSoon();
  }

  /** The peer drops the connection, as a server that dies: the client sees it closed. */
  drop(): void {
    if (this.gone) return;
    this.gone = true;
    this.discardHeld();
    this.end();
    setImmediate(() => this.handlers.closed());
  }

  // ---- the client's side (MemoryTransport) ----

  /** False while stalled: the bytes wait, as in a full socket buffer. */
  fromClient(bytes: Uint8Array): boolean {
    // A copy: the client may reuse its views once the write returns.
    const copy = Buffer.from(bytes);
    if (this.stalled) {
      this.held.push(copy);
      return false;
    }
    setImmediate(() => this.receive(copy));
    return true;
  }

  pause(): void {
    this.clientPaused = true;
  }

  resume(): void {
    this.clientPaused = false;
    this.flushSoon();
  }

  closeFromClient(how: ClientEnd): void {
    if (this.gone) return;
    this.gone = true;
    this.discardHeld();
    this.endedBy(how);
    // After what the client wrote before it has arrived.
    setImmediate(() => {
      this.end();
      this.handlers.closed();
    });
  }

  /** The connection is gone while stalled: held writes are lost, as a socket's buffer is. */
  private discardHeld(): void {
    this.held.length = 0;
  }

  get open(): boolean {
    return !this.gone;
  }

  private flushSoon(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      while (!this.gone && !this.clientPaused && this.toClient.length > 0) {
        const chunk = this.toClient.shift() as Buffer;
        this.handlers.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
    });
  }
}

class MemoryTransport implements Transport {
  constructor(
    private readonly peer: MemoryPeer,
    readonly encrypted: boolean,
  ) {}

  write(bytes: Uint8Array): boolean {
    return this.peer.open && this.peer.fromClient(bytes);
  }

  writeAll(chunks: Uint8Array[]): boolean {
    if (!this.peer.open) return false;
    let writable = true;
    for (const chunk of chunks) writable = this.peer.fromClient(chunk) && writable;
    return writable;
  }

  pause(): void {
    this.peer.pause();
  }

  resume(): void {
    this.peer.resume();
  }

  end(): void {
    this.peer.closeFromClient('end');
  }

  destroy(): void {
    this.peer.closeFromClient('destroy');
  }

  abort(): void {
    this.peer.closeFromClient('destroy');
  }
}

/**
 * The far end of every connection the client dials, through {@link factory}. `script` runs per
 * accepted connection (after the client has seen it open); tests may instead take a peer with
 * {@link peer} and drive it themselves.
 */
export class MemoryNetwork {
  readonly peers: MemoryPeer[] = [];
  /** Dials refused from now on, as when nothing listens. */
  refuse = false;
  /** Transports encrypted below the protocol from the start, as WebSocket over TLS (`wss://`). */
  encrypted = false;
  /** Dials made, refused ones included. */
  dials = 0;
  private readonly scripts: Promise<void>[] = [];
  private scriptError: unknown;
  private readonly waiting: ((peer: MemoryPeer) => void)[][] = [];

  constructor(private readonly script?: (peer: MemoryPeer) => void | Promise<void>) {}

  readonly factory: TransportFactory = (server, handlers) => {
    this.dials++;
    if (this.refuse) {
      const peer = new MemoryPeer(-1, server, handlers);
      return {
        transport: new MemoryTransport(peer, this.encrypted),
        ready: Promise.reject(new NatsError('io', `${server.url}: connection refused`)),
      };
    }
    const peer = new MemoryPeer(this.peers.length, server, handlers);
    this.peers.push(peer);
    setImmediate(() => {
      for (const resolve of this.waiting[peer.index]?.splice(0) ?? []) resolve(peer);
      if (this.script) this.run(peer, this.script);
    });
    return { transport: new MemoryTransport(peer, this.encrypted), ready: Promise.resolve() };
  };

  /** The `index`-th accepted connection, once the client has dialed it. */
  peer(index: number): Promise<MemoryPeer> {
    const known = this.peers[index];
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      this.waiting[index] ??= [];
      this.waiting[index].push(resolve);
    });
  }

  /** Drops every connection; rejects with the first error a script threw. */
  async close(): Promise<void> {
    for (const peer of this.peers) peer.drop();
    await Promise.all(this.scripts);
    if (this.scriptError !== undefined) throw this.scriptError;
  }

  private run(peer: MemoryPeer, script: (peer: MemoryPeer) => void | Promise<void>): void {
    const done = (async () => script(peer))().catch((err: unknown) => {
      if (peer.open && this.scriptError === undefined) {
        this.scriptError = new Error(`memory peer: script for connection ${peer.index} failed`, {
          cause: err,
        });
      }
      peer.drop();
    });
    this.scripts.push(done);
  }
}
