/**
 * One connection to one server, from dial to close: the INFO → CONNECT (+PING) → PONG
 * handshake, the parser, the PING/PONG heartbeat with stale detection, the ordered queue
 * of PINGs awaiting their PONG (heartbeats, flushes and the send window's share it, since
 * PONGs come in order), and the send window.
 * A session never reconnects; the connection loop makes a new one.
 */
import { NatsError } from '../shared/errors.js';
import type { WorkerOptions } from '../shared/options.js';
import { encodeConnect, PING, PONG } from '../shared/protocol/encode.js';
import { type MsgView, Parser, type ParserSink } from '../shared/protocol/parser.js';
import { type ServerInfo, toServerInfo } from '../shared/server-info.js';
import type { ServerAddress } from '../shared/servers.js';
import { type PingPurpose, SendWindow } from './flow-control.js';
import type { OutboundSink } from './outbound.js';
import { connectOptions, tlsError, upgradeAfterInfo } from './tls.js';
import { dialTcp, type SocketTransport } from './transport.js';

const HEARTBEAT: PingPurpose = { kind: 'heartbeat' };
/** Unanswered heartbeat PINGs after which the connection is stale. */
const MAX_OUTSTANDING_PINGS = 2;
const CLIENT_VERSION = '0.1.0';

export interface SessionHost {
  readonly options: WorkerOptions;
  message(msg: MsgView): void;
  /** Once per socket chunk, after its ops were handled: publish deliveries, pump commands. */
  chunkDone(): void;
  info(info: ServerInfo): void;
  serverError(message: string): void;
  /** The PONG for a PING written for `purpose` arrived. */
  ponged(purpose: PingPurpose): void;
  drained(): void;
  /** Bytes read/written and PUBs sent, for statistics. */
  counted(inBytes: number, outBytes: number, outMessages: number): void;
  /** The CONNECT fields that authenticate us to this server (may sign its nonce). */
  authFields(info: ServerInfo, server: ServerAddress): Promise<Record<string, unknown>>;
}

/**
 * dialing → [tlsFirst: handshaking] → awaitInfo → [TLS upgrade: handshaking] → connecting (auth)
 * → awaitPong → open; any → ended. Once TLS is up, any failure before `open` is kind 'tls'
 * (with TLS 1.3 a server that refuses the client certificate says so only after the handshake).
 */
type Phase =
  | 'dialing'
  | 'handshaking'
  | 'awaitInfo'
  | 'connecting'
  | 'awaitPong'
  | 'open'
  | 'ended';

export class Session implements ParserSink, OutboundSink {
  private phase: Phase = 'dialing';
  private transport: SocketTransport | null = null;
  /** The stream is TLS (sent as `tls_required` in CONNECT). */
  private secured = false;
  private gotInfo = false;
  private readonly parser: Parser;
  private readonly pongQueue: PingPurpose[] = [];
  private outstandingPings = 0;
  /** Reading is paused by the receive policy: heartbeats wait. */
  private readingPaused = false;
  private readonly window = new SendWindow();
  private heartbeat: NodeJS.Timeout | undefined;
  private handshake!: { resolve(info: ServerInfo): void; reject(error: NatsError): void };
  private info: ServerInfo | undefined;
  private endResolve!: (error: NatsError | undefined) => void;
  /** Settles once when the session is over: undefined for a clean close, else why it failed. */
  readonly ended: Promise<NatsError | undefined>;

  constructor(
    private readonly host: SessionHost,
    readonly server: ServerAddress,
  ) {
    this.parser = new Parser(this, { initialBufferSize: host.options.readBufferCapacity });
    this.ended = new Promise((resolve) => {
      this.endResolve = resolve;
    });
  }

  /** Dial and handshake within `connectionTimeout`; resolves with the server's INFO. */
  open(): Promise<ServerInfo> {
    const { options } = this.host;
    const handshake = new Promise<ServerInfo>((resolve, reject) => {
      this.handshake = { resolve, reject };
    });
    const timer = setTimeout(() => {
      this.fail(
        new NatsError(
          'timedOut',
          `${this.server.url}: no connection within ${options.connectionTimeout} ms${this.phase === 'handshaking' ? ' (the TLS handshake did not finish)' : ''}`,
        ),
      );
    }, options.connectionTimeout);
    const [localAddress, localPort] = splitLocalAddress(options.localAddress);
    const { transport, ready } = dialTcp(
      this.server,
      { localAddress, localPort },
      {
        data: (chunk) => this.onData(chunk),
        drain: () => this.host.drained(),
        closed: (error) => this.lost(error),
      },
    );
    this.transport = transport;
    ready.then(
      () => {
        if (this.phase !== 'dialing') return;
        if (!options.tls?.handshakeFirst) {
          this.phase = 'awaitInfo';
          return;
        }
        // tlsFirst: the server (handshake_first) waits for our ClientHello before its INFO.
        this.phase = 'handshaking';
        this.secure().then(
          () => {
            if (this.phase === 'handshaking') this.phase = 'awaitInfo';
          },
          (error: NatsError) => this.fail(error),
        );
      },
      (error: NatsError) => this.fail(error),
    );
    return handshake.finally(() => clearTimeout(timer));
  }

  // ---- OutboundSink ---------------------------------------------------------------------

  write(bytes: Uint8Array): boolean {
    if (this.transport === null || this.phase === 'ended') return false;
    this.host.counted(0, bytes.length, 0);
    return this.transport.write(bytes);
  }

  writeAll(chunks: Uint8Array[], done: () => void): boolean {
    if (this.transport === null || this.phase === 'ended') {
      done();
      return false;
    }
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    this.host.counted(0, bytes, 0);
    return this.transport.writeAll(chunks, done);
  }

  /**
   * Write the window's PING when one is due: after each batch of commands, once the PINGs in
   * it are queued (PONGs come back in wire order), so at most a batch goes past the last one.
   */
  batchDone(): void {
    this.pingWindowIfDue();
  }

  echoWritten(bytes: number): void {
    this.window.written(bytes);
  }

  /** Echo bytes that may go out now (SendWindow); ≤ 0: a window PONG will tell. */
  echoRoom(): number {
    return this.window.room();
  }

  /**
   * Stop reading the socket (flow-control.ts: the delivery backlog is full). PONGs cannot
   * arrive meanwhile, so no heartbeat is sent or counted until {@link resumeReading}.
   */
  pauseReading(): void {
    this.readingPaused = true;
    this.transport?.pause();
  }

  resumeReading(): void {
    this.readingPaused = false;
    this.outstandingPings = 0; // PINGs sent before the pause were answered, or will be now
    this.transport?.resume();
  }

  private pingWindowIfDue(): void {
    const purpose = this.window.duePing();
    if (purpose === undefined) return;
    this.write(PING);
    this.pongQueue.push(purpose);
  }

  pingQueued(purpose: PingPurpose): void {
    this.pongQueue.push(purpose);
  }

  published(count: number): void {
    this.host.counted(0, 0, count);
  }

  /** Flush ids whose PING was sent but not answered: the next session sends them again. */
  unansweredFlushes(): number[] {
    const ids: number[] = [];
    for (const purpose of this.pongQueue) if (purpose.kind === 'flush') ids.push(purpose.id);
    return ids;
  }

  /** Send the lines that must precede everything else on a fresh connection (resubscribes, flushes). */
  writeFirst(lines: Uint8Array[], flushIds: number[]): void {
    for (const line of lines) this.write(line);
    for (const id of flushIds) {
      this.write(PING);
      this.pongQueue.push({ kind: 'flush', id });
    }
  }

  /** Graceful end: half-close after what is queued, wait (bounded) for the socket to close. */
  async close(timeoutMs: number): Promise<void> {
    if (this.phase === 'ended') return;
    const transport = this.transport;
    this.end(undefined);
    if (transport) await transport.end(timeoutMs);
  }

  /** Drop the connection now (stale, forced reconnect, protocol error). */
  fail(error: NatsError): void {
    if (this.phase === 'ended') return;
    const wasOpen = this.phase === 'open';
    this.transport?.destroy();
    this.end(error);
    if (!wasOpen) this.handshake.reject(error);
  }

  // ---- ParserSink -----------------------------------------------------------------------

  onMsg(msg: MsgView): void {
    if (this.phase === 'open') this.host.message(msg);
  }

  onInfo(raw: Record<string, unknown>): void {
    const info = toServerInfo(raw);
    this.info = info;
    if (!this.gotInfo) {
      this.gotInfo = true;
      void this.establish(info);
      return;
    }
    this.host.info(info);
  }

  onPing(): void {
    this.write(PONG);
  }

  onPong(): void {
    if (this.phase === 'awaitPong') {
      this.phase = 'open';
      this.startHeartbeat();
      if (this.info) this.handshake.resolve(this.info);
      return;
    }
    this.outstandingPings = 0;
    const purpose = this.pongQueue.shift();
    if (purpose?.kind === 'window') this.window.acknowledged(purpose.sent);
    if (purpose !== undefined && purpose !== HEARTBEAT) this.host.ponged(purpose);
  }

  onOk(): void {}

  onErr(message: string): void {
    if (this.phase !== 'open') {
      const kind = /authori[sz]ation|authentication|user .*revoked|expired/i.test(message)
        ? 'authorizationViolation'
        : 'server';
      this.fail(new NatsError(kind, `${this.server.url}: ${message}`));
      return;
    }
    // The server closes the socket itself after a fatal -ERR; non-fatal ones (permissions) are reported.
    this.host.serverError(message);
  }

  // ---- internals ------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.phase === 'ended') return;
    this.host.counted(chunk.length, 0, 0);
    try {
      // A plain Uint8Array view: the parser's and the inbound side's subarrays of it are
      // cheaper than a Buffer's (no FastBuffer per slice).
      this.parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (err) {
      const error =
        err instanceof NatsError ? err : new NatsError('protocol', String(err), { cause: err });
      this.host.chunkDone();
      this.fail(
        new NatsError('protocol', `${this.server.url}: ${error.message}`, { cause: error }),
      );
      return;
    }
    if (this.phase === 'open') this.host.chunkDone();
  }

  private startHeartbeat(): void {
    const interval = this.host.options.pingInterval;
    this.heartbeat = setInterval(() => {
      if (this.readingPaused) return;
      if (this.outstandingPings >= MAX_OUTSTANDING_PINGS) {
        this.fail(
          new NatsError(
            'timedOut',
            `${this.server.url}: stale connection (${MAX_OUTSTANDING_PINGS} PINGs unanswered)`,
          ),
        );
        return;
      }
      this.outstandingPings++;
      this.pongQueue.push(HEARTBEAT);
      this.write(PING);
    }, interval);
    // The socket keeps the worker alive; the timer must not keep a closing worker up.
    this.heartbeat.unref();
  }

  private end(error: NatsError | undefined): void {
    this.phase = 'ended';
    clearInterval(this.heartbeat);
    this.parser.reset();
    this.endResolve(error);
  }

  /** After the first INFO: secure the stream if needed, authenticate, send CONNECT + PING. */
  private async establish(info: ServerInfo): Promise<void> {
    try {
      if (!this.secured && upgradeAfterInfo(this.server, this.host.options.tls, info)) {
        this.phase = 'handshaking';
        await this.secure();
        if (this.phase !== 'handshaking') return; // failed or timed out meanwhile
      }
      this.phase = 'connecting';
      const auth = await this.host.authFields(info, this.server);
      if (this.phase !== 'connecting') return; // failed or timed out meanwhile
      this.write(encodeConnect({ ...this.connectFields(), ...auth }));
      this.write(PING);
      this.phase = 'awaitPong';
    } catch (err) {
      this.fail(err instanceof NatsError ? err : new NatsError('io', String(err), { cause: err }));
    }
  }

  /**
   * TLS handshake over the connected socket (all of it on this worker thread). The parser has
   * consumed everything before it: the server sends nothing between INFO and our ClientHello.
   */
  private async secure(): Promise<void> {
    const { tls } = this.host.options;
    const transport = this.transport;
    if (transport === null) return;
    let options: ReturnType<typeof connectOptions>;
    try {
      options = connectOptions(this.server, tls);
    } catch (err) {
      throw err instanceof NatsError ? err : tlsError(this.server, tls, err, false);
    }
    await transport.startTls(options, (err) => tlsError(this.server, tls, err, false));
    this.secured = true;
  }

  /** The transport is gone: a failure of TLS when it happens between the handshake and `open`. */
  private lost(error: NatsError | undefined): void {
    if (this.secured && this.phase !== 'open' && this.phase !== 'ended') {
      this.fail(tlsError(this.server, this.host.options.tls, error?.cause ?? error, true));
      return;
    }
    this.fail(error ?? new NatsError('io', `${this.server.url}: connection closed`));
  }

  private connectFields(): Record<string, unknown> {
    const { options } = this.host;
    return {
      verbose: false,
      pedantic: false,
      lang: 'nats-offload',
      version: CLIENT_VERSION,
      protocol: 1,
      headers: true,
      no_responders: true,
      echo: !options.noEcho,
      name: options.name,
      tls_required: this.secured,
    };
  }
}

/** `addr`, `addr:port` or `[v6]:port` → [address, port]. */
function splitLocalAddress(value: string | undefined): [string | undefined, number | undefined] {
  if (!value) return [undefined, undefined];
  const v6 = /^\[(.+)\](?::(\d+))?$/.exec(value);
  if (v6) return [v6[1], v6[2] ? Number(v6[2]) : undefined];
  const parts = value.split(':');
  if (parts.length === 2) return [parts[0], Number(parts[1])];
  return [value, undefined];
}
