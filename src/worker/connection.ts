/**
 * The connection loop: one explicit state machine per client.
 *
 *   pending ──connect──► connected ──socket lost──► disconnected ──reconnect──► connected
 *      │                                                 │
 *      └──first connect fails / close()──► closed ◄──────┴── maxReconnects / close()
 *
 * It owns what outlives a socket: the subscription table (replayed on each new connection),
 * the command ring's outbound pump, the delivery ring's inbound side, the server pool and the
 * statistics. A {@link Session} is one socket; the loop makes a new one per attempt.
 */
import type { Remote } from '../shared/comlink.js';
import type { HostCallbacks, StartResult, WireEvent, WorkerData } from '../shared/control.js';
import { NatsError, toWire } from '../shared/errors.js';
import {
  ST_MAX_PAYLOAD,
  ST_STATE,
  STATE_CLOSED,
  STATE_CONNECTED,
  STATE_DISCONNECTED,
} from '../shared/layout.js';
import { defaultReconnectDelay, type WorkerOptions } from '../shared/options.js';
import type { MsgView } from '../shared/protocol/parser.js';
import { RingConsumer, RingProducer } from '../shared/ring/byte-ring.js';
import type { ServerInfo } from '../shared/server-info.js';
import type { ServerAddress } from '../shared/servers.js';
import { authFields, type CallerAuth } from './auth.js';
import { Inbound } from './inbound.js';
import { OutboundPump, type PingPurpose } from './outbound.js';
import { type PoolEntry, ServerPool } from './server-pool.js';
import { Session, type SessionHost } from './session.js';
import { Stats } from './stats.js';
import { SubscriptionTable } from './subscriptions.js';

/** How long close() waits for the server to acknowledge the socket's end. */
const CLOSE_TIMEOUT_MS = 2_000;

export class Connection implements SessionHost {
  readonly options: WorkerOptions;
  private readonly stateWords: Int32Array;
  private readonly stats: Stats;
  private readonly subs: SubscriptionTable;
  private readonly commands: RingConsumer;
  private readonly outbound: OutboundPump;
  private readonly inbound: Inbound;
  private readonly pool: ServerPool;
  private host: Remote<HostCallbacks> | null = null;
  private session: Session | null = null;
  private connected = false;
  private closing = false;
  private closeDone: Promise<void> | null = null;
  private startDone: ((result: StartResult) => void) | null = null;
  private waitingForCommands = false;
  private pumpLater: NodeJS.Immediate | undefined;
  private backoff: { timer: NodeJS.Timeout; resolve(): void } | null = null;
  /** Consecutive failed connection attempts. */
  private failures = 0;
  private lastInfo: ServerInfo | undefined;
  /** Flushes whose PING a lost connection never answered; re-sent on the next one. */
  private carriedFlushes: number[] = [];

  constructor(data: WorkerData) {
    this.options = data.options;
    this.stateWords = new Int32Array(data.state);
    this.stats = new Stats(data.state);
    this.commands = new RingConsumer(data.command);
    this.subs = new SubscriptionTable((sid) => this.inbound.subscriptionEnded(sid));
    this.outbound = new OutboundPump(this.commands, this.subs);
    this.inbound = new Inbound(new RingProducer(data.delivery), data.options.subscriptionCapacity, {
      slowConsumer: (sid) => this.emit({ type: 'slowConsumer', sid }),
      oversized: (sid, bytes) =>
        this.emit({
          type: 'clientError',
          error: toWire(
            new NatsError(
              'maxPayloadExceeded',
              `message of ${bytes} bytes for sid ${sid} exceeds the delivery ring; dropped`,
            ),
          ),
        }),
      caughtUp: () => this.kick(),
    });
    this.pool = new ServerPool(
      data.options.servers,
      data.options.retainServersOrder,
      data.options.ignoreDiscoveredServers,
    );
  }

  /** Begin connecting; resolves when first connected, or at once with retryOnInitialConnect. */
  start(host: Remote<HostCallbacks>): Promise<StartResult> {
    this.host = host;
    const result = new Promise<StartResult>((resolve) => {
      this.startDone = resolve;
    });
    if (this.options.retryOnInitialConnect) this.settleStart({ ok: true });
    void this.run();
    return result;
  }

  /** Send what the command ring holds, end the socket, stop the loop. Idempotent. */
  close(): Promise<void> {
    this.closeDone ??= this.shutdown();
    return this.closeDone;
  }

  /** Drop the current connection (if any); the loop reconnects as after any loss. */
  forceReconnect(): void {
    this.session?.fail(new NatsError('io', 'reconnect forced by the client'));
  }

  // ---- the loop -------------------------------------------------------------------------

  private async run(): Promise<void> {
    const { maxReconnects, retryOnInitialConnect } = this.options;
    let everConnected = false;
    let firstRoundLeft = this.pool.size;
    while (!this.closing) {
      const retrying = everConnected || retryOnInitialConnect;
      let entry: PoolEntry;
      if (retrying) {
        if (
          maxReconnects !== null &&
          this.failures >= maxReconnects &&
          (everConnected || this.failures > 0)
        ) {
          this.endByItself(
            new NatsError(
              'maxReconnects',
              `gave up after ${this.failures} failed connection attempts`,
            ),
          );
          return;
        }
        const next = await this.nextAttempt();
        if (this.closing) return;
        if (next.delay > 0) await this.sleep(next.delay);
        if (this.closing) return;
        entry = next.entry;
      } else {
        entry = this.pool.next();
      }
      const session = new Session(this, entry.address);
      this.session = session;
      let info: ServerInfo;
      try {
        info = await session.open();
      } catch (err) {
        const error = err as NatsError;
        this.session = null;
        if (this.closing) return;
        this.pool.failed(entry, error);
        this.failures++;
        this.poolChanged();
        if (!retrying && (error.kind === 'authorizationViolation' || --firstRoundLeft === 0)) {
          this.settleStart({ ok: false, error: toWire(error) });
          void this.close();
          return;
        }
        continue;
      }
      if (this.closing) {
        // close() ran while the handshake's PONG was being handled: do not come back to life.
        session.fail(new NatsError('closed', 'client closed'));
        return;
      }
      this.failures = 0;
      this.pool.connected(entry);
      this.applyInfo(info);
      this.outbound.reset();
      session.writeFirst(this.subs.replay(), this.carriedFlushes);
      this.carriedFlushes = [];
      this.connected = true;
      Atomics.store(this.stateWords, ST_STATE, STATE_CONNECTED); // main reads connectionState()
      this.stats.connects++;
      this.stats.store();
      everConnected = true;
      this.settleStart({ ok: true, info });
      this.emit({ type: 'connected' });
      this.kick();

      const error = await session.ended;
      this.connected = false;
      this.session = null;
      this.carriedFlushes = session.unansweredFlushes();
      if (this.closing) return;
      Atomics.store(this.stateWords, ST_STATE, STATE_DISCONNECTED); // publishes now wait in the ring
      if (error?.kind === 'protocol') this.emit({ type: 'clientError', error: toWire(error) });
      this.emit({ type: 'disconnected' });
    }
  }

  /**
   * The server and delay of the next reconnect attempt: the caller's reconnectToServer
   * callback when set (an address not in the pool falls back to the default choice), else
   * the pool's order and the delay callback or default backoff.
   */
  private async nextAttempt(): Promise<{ entry: PoolEntry; delay: number }> {
    const host = this.host as Remote<Required<HostCallbacks>> | null;
    if (this.options.hasReconnectToServerCallback && host && this.lastInfo) {
      try {
        const choice = await host.reconnectToServer(this.pool.snapshot(), this.lastInfo);
        const entry = choice ? this.pool.find(choice.addr) : undefined;
        if (entry && choice) {
          const delay = Number(choice.delay ?? 0);
          return { entry, delay: Number.isFinite(delay) && delay > 0 ? delay : 0 };
        }
      } catch {
        // A throwing callback falls back to the default choice rather than stopping reconnects.
      }
    }
    return {
      entry: this.pool.next(),
      delay: this.failures > 0 ? await this.reconnectDelay(this.failures) : 0,
    };
  }

  private async reconnectDelay(failures: number): Promise<number> {
    if (this.options.hasReconnectDelayCallback && this.host) {
      try {
        const host = this.host as Remote<Required<HostCallbacks>>;
        const ms = Number(await host.reconnectDelay(failures));
        if (Number.isFinite(ms) && ms >= 0) return ms;
      } catch {
        // A throwing callback falls back to the default backoff rather than stopping reconnects.
      }
    }
    return defaultReconnectDelay(failures);
  }

  /** setServerPool: new servers, state kept for those in both, attempt counter reset. */
  setServerPool(servers: ServerAddress[]): void {
    this.pool.replace(servers);
    this.failures = 0;
    this.poolChanged();
  }

  private poolChanged(): void {
    const snapshot = this.pool.snapshot();
    this.call((host) => host.serverPool(snapshot));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      // The timer keeps the worker alive during backoff, as the socket does otherwise.
      this.backoff = { timer: setTimeout(resolve, ms), resolve };
    }).finally(() => {
      this.backoff = null;
    });
  }

  private applyInfo(info: ServerInfo): void {
    this.lastInfo = info;
    Atomics.store(this.stateWords, ST_MAX_PAYLOAD, info.maxPayload); // publish() checks sizes against it
    if (this.session) this.pool.discovered(info.connectUrls, this.session.server);
    this.call((host) => host.serverInfo(info));
    this.poolChanged();
  }

  /** The client ends without close() (maxReconnects): the main thread tears down. */
  private endByItself(error: NatsError): void {
    this.call((host) => host.ended(toWire(error)));
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.backoff?.resolve();
    clearTimeout(this.backoff?.timer);
    clearImmediate(this.pumpLater);
    const session = this.session;
    if (session && this.connected) {
      // Everything published before close() goes out before the socket ends.
      while (this.outbound.pump(session) !== 'empty') {}
      await session.close(CLOSE_TIMEOUT_MS);
    } else {
      session?.fail(new NatsError('closed', 'client closed'));
    }
    this.connected = false;
    Atomics.store(this.stateWords, ST_STATE, STATE_CLOSED);
    this.inbound.close();
    this.stats.store();
    this.settleStart({
      ok: false,
      error: toWire(new NatsError('closed', 'client closed before it connected')),
    });
  }

  private settleStart(result: StartResult): void {
    const done = this.startDone;
    this.startDone = null;
    done?.(result);
  }

  private emit(event: WireEvent): void {
    this.call((host) => host.event(event));
  }

  /** Fire-and-forget a host callback; a main thread that went away must not crash the worker. */
  private call(fn: (host: Remote<HostCallbacks>) => unknown): void {
    if (!this.host) return;
    try {
      Promise.resolve(fn(this.host)).catch(() => {});
    } catch {
      // the proxy was released: the client is closing
    }
  }

  // ---- outbound scheduling --------------------------------------------------------------

  /**
   * Pump the command ring to the socket. Commands wait in the ring while disconnected, and
   * while the send window is used up (SendWindow: the server has not yet answered for 8 MiB).
   * While deliveries back up (the main thread is saturated) they go out only as fast as the
   * main thread reads (Inbound.takeCredit; a record at a time, and a PUB record may hold up
   * to 64 KiB of publishes): its publishes then meet back-pressure, so its own subscriptions
   * get the turn instead of overflowing, and replies still follow requests.
   */
  private kick(): void {
    const session = this.session;
    if (!session || !this.connected || this.closing) return;
    let budget = session.sendRoom();
    if (budget <= 0) return; // the window's PONG kicks again
    // Taken after the window check: what the main thread read meanwhile still counts.
    const credit = this.inbound.takeCredit();
    if (this.inbound.behind) {
      if (credit === 0) {
        this.inbound.awaitRelief(this.resumePump);
        return;
      }
      budget = Math.min(budget, credit);
    }
    const result = this.outbound.pump(session, budget);
    this.stats.store();
    // An UNSUB whose limit the worker had already reached frames a SUB_END as it passes;
    // outside a socket chunk nothing else would publish it.
    this.inbound.publish();
    if (result === 'more') {
      this.pumpLater ??= setImmediate(() => {
        this.pumpLater = undefined;
        this.kick();
      });
    } else if (result === 'empty') {
      this.awaitCommands();
    }
    // 'blocked': the socket's 'drain' calls kick() again.
  }

  private readonly resumePump = (): void => this.kick();

  private awaitCommands(): void {
    if (this.waitingForCommands) return;
    const wait = this.commands.waitForData();
    if (wait === undefined) {
      // A frame landed between the pump and the wait: go round again, after pending I/O.
      this.pumpLater ??= setImmediate(() => {
        this.pumpLater = undefined;
        this.kick();
      });
      return;
    }
    this.waitingForCommands = true;
    wait.then(() => {
      this.waitingForCommands = false;
      this.kick();
    });
  }

  // ---- SessionHost ----------------------------------------------------------------------

  message(msg: MsgView): void {
    this.stats.inMessages++;
    const sub = this.subs.get(msg.sid);
    if (sub === undefined) return; // unsubscribed while the message was in flight
    this.inbound.deliver(msg, sub);
    this.subs.received(sub);
  }

  chunkDone(): void {
    // Counters first: a flush ack made visible below must find them up to date.
    this.stats.store();
    this.inbound.publish();
    this.kick();
  }

  info(info: ServerInfo): void {
    this.applyInfo(info);
    if (info.lameDuckMode) this.emit({ type: 'lameDuckMode' });
  }

  serverError(message: string): void {
    this.emit({ type: 'serverError', error: toWire(new NatsError('server', message)) });
  }

  ponged(purpose: PingPurpose): void {
    if (purpose.kind === 'flush') this.inbound.flushAck(purpose.id);
    else if (purpose.kind === 'unsubFence') this.subs.remove(purpose.sid);
    else if (purpose.kind === 'window') this.kick(); // the window may have been closed
  }

  drained(): void {
    this.kick();
  }

  authFields(info: ServerInfo, server: ServerAddress): Promise<Record<string, unknown>> {
    return authFields(this.options.auth, server, info, this.host as unknown as CallerAuth);
  }

  counted(inBytes: number, outBytes: number, outMessages: number): void {
    this.stats.inBytes += inBytes;
    this.stats.outBytes += outBytes;
    this.stats.outMessages += outMessages;
  }
}
