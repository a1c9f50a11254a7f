/**
 * One connection to one server, from dial to close: the INFO → CONNECT (+PING) → PONG
 * handshake through the phases of session-phase.ts (what it sends and how it fails:
 * handshake.ts), the parser, the heartbeat, and what it writes (session-writer.ts: the pump's
 * batches, PINGs and what their PONGs acknowledge, which messages a lost socket takes with it).
 * Ended on purpose, it half-closes and reads until the server closes its side (the `closing`
 * phase; endings.ts). The bytes travel over a transport from the factory it is given
 * (transport.ts). A session never reconnects; the connection loop makes a new one.
 */
import { NatsError } from '../shared/errors.js';
import type { WorkerOptions } from '../shared/options.js';
import { encodeConnect, PING } from '../shared/protocol/encode.js';
import { type MsgView, Parser, type ParserSink } from '../shared/protocol/parser.js';
import { type ServerInfo, toServerInfo } from '../shared/server-info.js';
import type { ServerAddress } from '../shared/servers.js';
import type { PingPurpose } from './flow-control.js';
import { connectFields, handshakeTimedOut, refused, secure } from './handshake.js';
import { Heartbeat, MAX_OUTSTANDING_PINGS } from './heartbeat.js';
import { nextPhase, type Phase } from './session-phase.js';
import { SessionWriter } from './session-writer.js';
import { tlsError, unencryptedRefused, upgradeAfterInfo } from './tls.js';
import type { Transport, TransportFactory } from './transport.js';

const HEARTBEAT: PingPurpose = { kind: 'heartbeat' };

export interface SessionHost {
  readonly options: WorkerOptions;
  /**
   * The handshake's PONG came: the connection is open, with this INFO. Called before anything
   * after the PONG (in the same chunk) is handled, so the host takes the connection first.
   */
  opened(info: ServerInfo): void;
  message(msg: MsgView): void;
  /**
   * Whether messages this session reads while closing (ended on purpose, its subscriptions
   * still standing at the server) are delivered: as long as no later connection has them.
   */
  deliversWhileClosing(session: Session): boolean;
  /** Once per socket chunk, after its ops were handled: publish deliveries, pump commands. */
  chunkDone(): void;
  /** An INFO on the open connection. */
  info(info: ServerInfo): void;
  serverError(message: string): void;
  /** The PONG for a PING written for `purpose` arrived (on an open connection, after its handshake). */
  ponged(purpose: PingPurpose): void;
  drained(): void;
  /** Bytes read/written and PUBs sent, for statistics. */
  counted(inBytes: number, outBytes: number, outMessages: number): void;
  /** The CONNECT fields that authenticate us to this server (may sign its nonce). */
  authFields(info: ServerInfo, server: ServerAddress): Promise<Record<string, unknown>>;
}

export class Session implements ParserSink {
  /** Changed by {@link advance} and {@link end} only. */
  private phase: Phase = 'dialing';
  private transport: Transport | null = null;
  private readonly parser: Parser;
  /** Writes while the session may (the command pump's sink). */
  readonly output: SessionWriter;
  private readonly heartbeat: Heartbeat;
  private handshake!: { resolve(info: ServerInfo): void; reject(error: NatsError): void };
  private info: ServerInfo | undefined;
  /** Set by {@link close}: the graceful end under way. */
  private closing: Closing | undefined;
  /** The server sent a fatal -ERR on the open connection (it drops what followed). */
  private serverErred = false;
  /** The socket was lost while open, not ended by this client. */
  private peerEnded = false;
  private endResolve!: (error: NatsError | undefined) => void;
  /** Settles once when the session is over: undefined for a clean close, else why it failed. */
  readonly ended: Promise<NatsError | undefined>;

  constructor(
    private readonly host: SessionHost,
    readonly server: ServerAddress,
    private readonly transports: TransportFactory,
  ) {
    this.parser = new Parser(this, { initialBufferSize: host.options.readBufferCapacity });
    this.output = new SessionWriter(
      () => (this.phase === 'ended' || this.phase === 'closing' ? null : this.transport),
      (outBytes, outMessages) => host.counted(0, outBytes, outMessages),
      host.options.pingInterval !== 0,
    );
    this.heartbeat = new Heartbeat(host.options.pingInterval, {
      ping: () => this.output.ping(HEARTBEAT),
      stale: () =>
        this.fail(
          new NatsError(
            'timedOut',
            `${this.server.url}: stale connection (${MAX_OUTSTANDING_PINGS} PINGs unanswered)`,
          ),
        ),
    });
    this.ended = new Promise((resolve) => {
      this.endResolve = resolve;
    });
  }

  /**
   * Dial and handshake within `connectionTimeout`; resolves with the server's INFO (after the
   * host heard of it through `opened`), rejects with why the attempt failed.
   */
  open(): Promise<ServerInfo> {
    const { options } = this.host;
    const handshake = new Promise<ServerInfo>((resolve, reject) => {
      this.handshake = { resolve, reject };
    });
    const timer = setTimeout(
      () => this.fail(handshakeTimedOut(this.server, this.phase, options.connectionTimeout)),
      options.connectionTimeout,
    );
    // ws:// is never upgraded: refused before its upgrade request goes out in plain text (to a
    // wss:// port it would fail as an HTTP error, not as the TLS it lacks).
    if (this.server.scheme === 'ws' && options.tls?.required) {
      this.fail(unencryptedRefused(this.server));
    } else {
      this.dial();
    }
    return handshake.finally(() => clearTimeout(timer));
  }

  private dial(): void {
    const { transport, ready } = this.transports(this.server, {
      data: (chunk) => this.onData(chunk),
      drain: () => this.onDrain(),
      closed: (error) => this.lost(error),
    });
    this.transport = transport;
    ready.then(
      () => this.dialed(transport),
      (error: NatsError) => this.fail(error),
    );
  }

  /** Stop reading the socket (flow-control.ts: the delivery backlog is full). */
  pauseReading(): void {
    this.transport?.pause();
  }

  resumeReading(): void {
    this.transport?.resume();
  }

  /**
   * Hold keep-alive while a PONG may sit unread behind deliveries (flow-control.ts): PINGs
   * are neither sent nor counted until it is released.
   */
  holdKeepAlive(held: boolean): void {
    if (held) this.heartbeat.pause();
    else this.heartbeat.resume();
  }

  /**
   * Messages a failed session may have lost (API.md: counted in 'notSent'): those no PONG
   * acknowledged, however it failed (unflushed.ts).
   */
  get lostMessages(): number {
    return this.output.unflushed.lost();
  }

  /** The server ended the open connection with a fatal -ERR (something of ours it refused). */
  get endedByServerError(): boolean {
    return this.serverErred;
  }

  /**
   * The open connection was lost, not ended by this client: the server closed or reset it, or
   * the network failed. Its -ERR may have been lost with it: a write that fails on a reset
   * socket ends it before what is left to read.
   */
  get lostWhileOpen(): boolean {
    return this.peerEnded;
  }

  /** The connection is open: commands may be written (false once it failed or is closing). */
  get isOpen(): boolean {
    return this.phase === 'open';
  }

  /**
   * Flush ids whose PING was sent but not answered: `carried` ones the next session sends again;
   * `lost` ones (only after a failure) had messages before them that the failed socket may have
   * taken with it ({@link lostMessages}): no later PONG proves them.
   */
  unansweredFlushes(failed: boolean): { carried: number[]; lost: number[] } {
    const carried: number[] = [];
    const lost: number[] = [];
    const { unflushed } = this.output;
    for (const { id, upTo } of this.output.pings.unansweredFlushes()) {
      (failed && !unflushed.survives(upTo) ? lost : carried).push(id);
    }
    return { carried, lost };
  }

  /**
   * End on purpose (close, forceReconnect): half-close after what is queued. `ended` settles at
   * once, so the loop goes on; the socket is still read (PONGs still acknowledge messages) until
   * the server closes its side, having read everything. Resolves with the messages not sent:
   * none then; those no PONG acknowledged when the socket is abandoned instead ({@link abandon},
   * or after `abandonAfterMs` if given) or dropped. A session that failed already: those its
   * failure took.
   */
  close(abandonAfterMs?: number): Promise<number> {
    if (this.closing) return this.closing.notSent;
    if (this.phase !== 'open') {
      this.fail(new NatsError('closed', 'client closed')); // nothing to end gracefully
      return Promise.resolve(this.lostMessages);
    }
    this.advance('closing');
    this.heartbeat.stop();
    this.endResolve(undefined);
    const closing = new Closing(abandonAfterMs, () => this.abandon());
    this.closing = closing;
    (this.transport as Transport).end();
    return closing.notSent;
  }

  /** Give up on a closing socket: discard what it still holds, count what no PONG acknowledged. */
  abandon(): void {
    if (this.phase !== 'closing') return;
    (this.closing as Closing).abandoned = true;
    this.transport?.abort();
  }

  /**
   * Drop the connection now (stale, forced reconnect, protocol error). With a reset: what the
   * socket still holds is counted as not sent (lostMessages), so it must not reach the server
   * later, after what the next connection sends (a stopped server that resumes would read a
   * gracefully closed socket's backlog to its end). Not under TLS: a reset of the TCP socket
   * under a TLS socket that had just finished its handshake crashed Node (a review: 31 of 32
   * times), so a TLS connection is destroyed as before, and what its kernel holds may still go
   * (counted all the same: an upper bound).
   */
  fail(error: NatsError): void {
    if (this.phase === 'ended') return;
    if (this.phase === 'closing') {
      this.abandon();
      return;
    }
    const wasOpen = this.phase === 'open';
    const tls =
      this.transport?.encrypted === true ||
      this.phase === 'tlsFirst' ||
      this.phase === 'tlsUpgrade';
    // Ended first: a close may be reported at once (a TLS socket mid-handshake).
    this.end(error);
    if (tls) this.transport?.destroy();
    else this.transport?.abort();
    if (!wasOpen) this.handshake.reject(error);
  }

  // ---- ParserSink -----------------------------------------------------------------------

  onMsg(msg: MsgView): void {
    if (this.phase === 'open' || (this.phase === 'closing' && this.host.deliversWhileClosing(this)))
      this.host.message(msg);
    else this.sentBeforeInfo('MSG'); // off the per-message path: only when not delivered
  }

  onInfo(raw: Record<string, unknown>): void {
    const info = toServerInfo(raw);
    this.info = info;
    if (this.phase === 'awaitInfo') void this.establish(info);
    else if (this.phase === 'open') this.host.info(info);
    // One during the handshake is kept: the connection is announced with the latest INFO.
  }

  /**
   * Answered once per socket chunk, and not while the socket's buffer is full: a server only
   * needs some PONG (any one resets its count), and a PING flood must not queue a PONG per PING
   * behind a socket that does not drain.
   */
  onPing(): void {
    if (this.sentBeforeInfo('PING')) return;
    this.output.pings.serverPinged();
  }

  onPong(): void {
    if (this.sentBeforeInfo('PONG')) return;
    if (this.phase === 'awaitPong') {
      const info = this.info as ServerInfo; // awaitPong comes after an INFO
      this.advance('open');
      this.heartbeat.start();
      this.host.opened(info);
      this.handshake.resolve(info);
      return;
    }
    // Nothing outstanding: a PONG we did not ask for. It answers nothing, now or later. (One
    // that comes while PINGs wait cannot be told from their answer: PONGs carry no id.)
    const purpose = this.output.ponged();
    if (purpose === undefined) return;
    if (this.phase !== 'open') return; // closing: the loop went on; it only acknowledges
    this.heartbeat.answered();
    this.host.ponged(purpose);
    // Below the bound again: the pump goes on (else the socket's drain restarts it).
    if (this.output.mayResume()) this.host.drained();
  }

  onOk(): void {
    this.sentBeforeInfo('+OK');
  }

  /**
   * A server says nothing before its INFO: `op` there is no NATS server's, and the attempt fails
   * at once (async-nats: "expected INFO"), not after the whole connectionTimeout.
   */
  private sentBeforeInfo(op: string): boolean {
    if (this.phase !== 'awaitInfo') return false;
    this.fail(
      new NatsError(
        'protocol',
        `${this.server.url}: sent ${op} before its INFO: not a NATS server`,
      ),
    );
    return true;
  }

  onErr(message: string): void {
    if (this.phase === 'closing') return; // the server closes the socket, if it means to
    if (this.phase !== 'open') {
      this.fail(refused(this.server, message));
      return;
    }
    // The server closes the socket itself after a fatal -ERR, dropping what it had not parsed;
    // non-fatal ones (permissions) are reported.
    if (!/^permissions violation/i.test(message)) this.serverErred = true;
    this.host.serverError(message);
  }

  // ---- internals ------------------------------------------------------------------------

  private onDrain(): void {
    this.output.drained();
    this.host.drained();
  }

  private onData(chunk: Uint8Array): void {
    if (this.phase === 'ended') return;
    this.host.counted(chunk.length, 0, 0);
    if (this.phase === 'closing') {
      this.readWhileClosing(chunk);
      return;
    }
    try {
      this.parser.push(chunk);
      this.output.answerPings();
    } catch (err) {
      const error =
        err instanceof NatsError ? err : new NatsError('protocol', String(err), { cause: err });
      // Failed first, so that no command is pumped into the socket being destroyed; then what
      // was parsed before the bad bytes is delivered.
      this.fail(
        new NatsError('protocol', `${this.server.url}: ${error.message}`, { cause: error }),
      );
      this.host.chunkDone();
      return;
    }
    if (this.phase === 'open') this.host.chunkDone();
  }

  /**
   * The one place the phase moves on (besides {@link end}): false when the session ended
   * meanwhile (its timer, the socket or close() won the race), so the caller stops; an edge
   * session-phase.ts does not allow throws.
   */
  private advance(to: Phase): boolean {
    if (this.phase === 'ended') return false;
    this.phase = nextPhase(this.phase, to);
    return true;
  }

  private end(error: NatsError | undefined): void {
    this.phase = nextPhase(this.phase, 'ended');
    this.heartbeat.stop();
    this.output.stop();
    this.parser.reset();
    this.endResolve(error);
  }

  /** Closing: only PONGs matter (they acknowledge messages); bytes past a bad one are dropped. */
  private readWhileClosing(chunk: Uint8Array): void {
    const closing = this.closing as Closing;
    if (closing.unparsable) return;
    try {
      this.parser.push(chunk);
    } catch {
      closing.unparsable = true;
    }
    if (this.host.deliversWhileClosing(this)) this.host.chunkDone();
  }

  /**
   * The closing socket is gone: without an error, the server closed it after reading our end;
   * otherwise (dropped, abandoned) what no PONG acknowledged may be lost.
   */
  private closed(error: NatsError | undefined): void {
    const closing = this.closing as Closing;
    this.end(undefined);
    closing.done(error === undefined && !closing.abandoned ? 0 : this.output.unflushed.lost());
  }

  /**
   * The transport is open. With tlsFirst the server (handshake_first) waits for our
   * ClientHello before its INFO; a transport without an in-place upgrade (WebSocket) has its
   * TLS, if any, below it already.
   */
  private dialed(transport: Transport): void {
    if (!this.host.options.tls?.handshakeFirst || !transport.startTls) {
      this.advance('awaitInfo');
      return;
    }
    if (!this.advance('tlsFirst')) return;
    secure(transport, this.server, this.host.options.tls).then(
      () => this.advance('awaitInfo'),
      (error: NatsError) => this.fail(error),
    );
  }

  /** After the first INFO: secure the stream if needed, authenticate, send CONNECT + PING. */
  private async establish(info: ServerInfo): Promise<void> {
    const transport = this.transport as Transport;
    try {
      const { tls } = this.host.options;
      // A stream without an in-place upgrade (ws://) ignores the TLS its server's TCP listener
      // asks for, and cannot meet requireTls(true) (which refuses ws:// before the dial).
      if (!transport.encrypted && !transport.startTls) {
        if (tls?.required) throw unencryptedRefused(this.server);
      } else if (!transport.encrypted && upgradeAfterInfo(this.server, tls, info)) {
        if (!this.advance('tlsUpgrade')) return;
        await secure(transport, this.server, this.host.options.tls);
      }
      if (!this.advance('authenticating')) return; // failed or timed out meanwhile
      const auth = await this.host.authFields(info, this.server);
      if (!this.advance('awaitPong')) return;
      this.output.write(
        encodeConnect({
          ...connectFields(this.host.options, transport.encrypted, info.headers),
          ...auth,
        }),
      );
      this.output.write(PING);
    } catch (err) {
      this.fail(err instanceof NatsError ? err : new NatsError('io', String(err), { cause: err }));
    }
  }

  /**
   * The transport is gone. Once TLS is up, a loss before `open` is kind 'tls': with TLS 1.3 a
   * server that refuses the client certificate says so only after the handshake.
   */
  private lost(error: NatsError | undefined): void {
    if (this.phase === 'closing') {
      this.closed(error);
      return;
    }
    if (this.phase === 'ended') return; // this client dropped it first (fail())
    if (this.phase === 'open') this.peerEnded = true;
    if (this.transport?.encrypted && this.phase !== 'open') {
      this.fail(tlsError(this.server, this.host.options.tls, error?.cause ?? error, true));
      return;
    }
    this.fail(error ?? new NatsError('io', `${this.server.url}: connection closed`));
  }
}

/** A graceful end under way: its bound, and the count of messages not sent it resolves with. */
class Closing {
  /** Given up on (abandon()): the count is what no PONG acknowledged, whatever the close said. */
  abandoned = false;
  /** A PONG could not be parsed: the rest is not read. */
  unparsable = false;
  readonly notSent: Promise<number>;
  private resolve!: (messages: number) => void;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(abandonAfterMs: number | undefined, abandon: () => void) {
    this.notSent = new Promise((resolve) => {
      this.resolve = resolve;
    });
    if (abandonAfterMs !== undefined) this.timer = setTimeout(abandon, abandonAfterMs);
  }

  done(notSent: number): void {
    clearTimeout(this.timer);
    this.resolve(notSent);
  }
}
