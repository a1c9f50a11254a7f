/**
 * The connection loop, one per client: its states and the edges between them are data
 * (connection-state.ts) and change in one place, {@link Connection.to}, which also writes the
 * shared state word and tells the caller's thread. A {@link Session} is one socket; the loop
 * makes a new one per attempt, through the transport factory it was given, and asks
 * reconnect.ts when and where to try again.
 *
 * It owns what outlives a socket: the subscription table (replayed on each new connection),
 * the command ring's outbound pump and when it runs (pump-schedule.ts), the delivery ring's
 * inbound side, the server pool, the statistics, the sockets ended on purpose that are still
 * closing (endings.ts), and its line to the caller's thread (caller-link.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Remote } from '../shared/comlink.js';
import type { HostCallbacks, StartResult, WireServer, WorkerData } from '../shared/control.js';
import { acceptedMessages, NatsError, toWire } from '../shared/errors.js';
import { ST_MAX_PAYLOAD, ST_NO_HEADERS, ST_PONGS, ST_STATE } from '../shared/layout.js';
import type { WorkerOptions } from '../shared/options.js';
import type { MsgView } from '../shared/protocol/parser.js';
import { RingConsumer } from '../shared/ring/ring-consumer.js';
import { RingProducer } from '../shared/ring/ring-producer.js';
import type { ServerInfo } from '../shared/server-info.js';
import type { ServerAddress } from '../shared/servers.js';
import { authFields, type CallerAuth } from './auth.js';
import { CallerCalls } from './caller.js';
import { CallerLink } from './caller-link.js';
import { edge, type LoopState, type StateName } from './connection-state.js';
import { CLOSE_TIMEOUT_MS, Endings } from './endings.js';
import type { PingPurpose } from './flow-control.js';
import { Inbound } from './inbound.js';
import { OutboundPump } from './outbound.js';
import { PumpSchedule } from './pump-schedule.js';
import { Reconnects } from './reconnect.js';
import { ReplayFence } from './replay-fence.js';
import { type PoolEntry, ServerPool } from './server-pool.js';
import { Session, type SessionHost } from './session.js';
import { Stats } from './stats.js';
import { SubscriptionTable } from './subscriptions.js';
import { schemeTransports, type TransportFactory } from './transport.js';

/** Why a connection ended by forceReconnect() was lost, as the 'disconnected' event says. */
const FORCED = new NatsError('io', 'reconnect forced by the client (forceReconnect)');

/** What a connection is made of: the worker's data less its control port. */
export type ConnectionData = Omit<WorkerData, 'control'>;

export class Connection implements SessionHost {
  readonly options: WorkerOptions;
  private readonly stateWords: Int32Array;
  private readonly stats: Stats;
  private readonly subs: SubscriptionTable;
  private readonly outbound: OutboundPump;
  private readonly pump: PumpSchedule;
  private readonly inbound: Inbound;
  private readonly pool: ServerPool;
  private readonly reconnects: Reconnects;
  /** The caller's thread: callbacks, batched updates, start()'s answer. */
  private readonly link: CallerLink;
  /** Changed by {@link to} only. */
  private state: LoopState = { name: 'idle' };
  private lastInfo: ServerInfo | undefined;
  /** Accepted messages not sent (see {@link notSent}). */
  private unsent = 0;
  /** Sockets ended on purpose that are still closing. */
  private readonly endings = new Endings((messages) => {
    this.unsent += messages;
  });
  /** The caller's callbacks the loop waits on, bounded (caller.ts). */
  private readonly calls = new CallerCalls();
  /** Flushes whose PING a lost connection never answered; re-sent on the next one. */
  private carriedFlushes: number[] = [];
  /** setServerPool() calls so far: an attempt planned before the last one is not made. */
  private poolReplaced = 0;
  /** The last flush a PONG acknowledged, in socket order (0: none): a server -ERR tells it. */
  private lastFlushAcked = 0;
  /** The session that opened last: a closing one delivers only while it still is. */
  private lastOpened: Session | undefined;
  /** After a SUB or PUB line the server refused as too long (replay-fence.ts). */
  private readonly fence: ReplayFence;

  constructor(
    data: ConnectionData,
    private readonly transports: TransportFactory = schemeTransports(data.options),
  ) {
    this.options = data.options;
    this.stateWords = new Int32Array(data.state);
    this.stats = new Stats(data.state);
    const commands = new RingConsumer(data.command);
    this.subs = new SubscriptionTable((sid) => this.inbound.subscriptionEnded(sid));
    this.outbound = new OutboundPump(commands, this.subs);
    this.fence = new ReplayFence(this.subs, (sid) => this.inbound.subscriptionRefused(sid));
    this.inbound = new Inbound(new RingProducer(data.delivery), data.options.subscriptionCapacity, {
      slowConsumer: (sid) => this.link.emit({ type: 'slowConsumer', sid }),
      dropped: () => this.stats.droppedMessages++,
      caughtUp: () => this.pump.kick(),
      pauseReading: () => this.openSession()?.pauseReading(),
      resumeReading: () => this.openSession()?.resumeReading(),
      holdKeepAlive: (held) => this.openSession()?.holdKeepAlive(held),
      subscription: (sid) => this.subs.get(sid),
      subscriptions: () => this.subs.all(),
    });
    this.pump = new PumpSchedule(
      commands,
      this.outbound,
      this.inbound,
      () => this.pumpedSession(),
      () => this.pumped(),
    );
    this.pool = new ServerPool(
      data.options.servers,
      data.options.retainServersOrder,
      data.options.ignoreDiscoveredServers,
    );
    this.link = new CallerLink(() => this.pool.snapshot());
    this.reconnects = new Reconnects(
      data.options,
      this.pool,
      () => {
        // The caller's reconnect callbacks run after it has heard of the state they follow.
        this.link.updates.flushStateChanges();
        return this.link.callbacks as Remote<Required<HostCallbacks>> | null;
      },
      (error) => this.link.emit({ type: 'clientError', error: toWire(error) }),
      this.calls,
    );
  }

  /** Begin connecting; resolves when first connected, or at once with retryOnInitialConnect. */
  start(host: Remote<HostCallbacks>): Promise<StartResult> {
    const result = this.link.attach(host);
    if (this.options.retryOnInitialConnect) this.link.settleStart({ ok: true });
    void this.run();
    return result;
  }

  /**
   * Send what the command ring holds, end the socket, stop the loop, all within `withinMs`
   * (what is left then is abandoned and counted). Idempotent. Afterwards {@link notSent} says
   * how many accepted messages were not sent.
   */
  close(withinMs = this.options.connectionTimeout): Promise<void> {
    const state = this.state;
    if (state.name === 'closing') return state.done;
    if (state.name === 'closed') {
      // The loop ended by itself (maxReconnects): what the ring holds was accepted before the
      // caller's thread stopped writing to it (it has when it calls this), and is not sent.
      this.unsent += this.outbound.discard();
      return Promise.resolve();
    }
    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    this.to({ name: 'closing', done });
    this.shutdown(state, withinMs).then(finished);
    return done;
  }

  /**
   * Drop the current connection (if any); the loop reconnects as after any loss. An open
   * socket first takes what the command ring holds, as far as its buffer does (the rest goes on
   * the next connection), and is ended gracefully: what it took still reaches the server.
   */
  forceReconnect(): void {
    const state = this.state;
    if (state.name === 'connected') {
      // One that failed already is being replaced (and counted) by the loop.
      if (!state.session.isOpen) return;
      this.pump.sendNow(state.session);
      this.endings.force(state.session, this.options);
    } else if (state.name === 'connecting') {
      state.session.fail(new NatsError('io', 'reconnect forced by the client'));
    }
  }

  /** Accepted messages that were not sent: lost with a failed socket, or left at close(). */
  get notSent(): number {
    return this.unsent;
  }

  /** setServerPool: new servers, state kept for those in both, attempt counter reset. */
  setServerPool(servers: ServerAddress[]): WireServer[] {
    this.pool.replace(servers);
    this.poolReplaced++; // an attempt planned from the old pool is planned again
    this.reconnects.reset();
    this.poolChanged();
    this.link.updates.flush();
    return this.pool.snapshot(); // the caller waits for this call: its new pool comes with the reply
  }

  // ---- the loop -------------------------------------------------------------------------

  private async run(): Promise<void> {
    let entry = await this.nextAttempt();
    while (entry !== undefined) {
      const session = new Session(this, entry.address, this.transports);
      this.to({ name: 'connecting', session, entry });
      // Success is taken at the PONG itself (opened()); here only how the attempt ended.
      let why = await session.open().then(
        () => undefined,
        (error: NatsError) => error,
      );
      const everConnected = this.stats.connects > 0;
      if (why !== undefined) {
        if (!this.inState('connecting')) return; // close() ended it
        this.reconnects.failed(entry, why);
        this.poolChanged();
        // Reconnecting, each failed attempt says why (connect()'s caller hears it otherwise).
        if (everConnected || this.options.retryOnInitialConnect) {
          this.link.updates.attemptFailed({ type: 'clientError', error: toWire(why) });
        }
      } else {
        why = await session.ended;
        if (!this.inState('connected')) return; // close() ended it
        const failed = why !== undefined;
        const quick = this.reconnects.ended(failed, failed && session.endedByServerError);
        // An -ERR may have been lost with the socket: the next replay is fenced all the same.
        if (quick && session.lostWhileOpen) this.fence.suspect();
        // A failed socket may take what no PONG acknowledged with it, the kernel's share too.
        if (failed) this.unsent += session.lostMessages;
        // Ended on purpose by forceReconnect(): 'disconnected' says so.
        else if (this.endings.wasForced(session)) why = FORCED;
        const { carried, lost } = session.unansweredFlushes(failed);
        for (const id of lost) this.inbound.flushLost(id);
        // Flushes it had not taken came after those messages: lost with them.
        if (failed && session.lostMessages > 0) {
          this.inbound.flushesLostAfter(this.outbound.lastFlushId);
        }
        this.carriedFlushes = carried;
      }
      const wake = new AbortController();
      this.to({ name: 'backoff', wake }, why);
      const end = this.reconnects.endOfFirstPass(why, everConnected);
      if (end !== undefined) {
        this.to({ name: 'closed' }, end);
        return;
      }
      if (why === FORCED) {
        await this.endings.forcedHeadStart(wake.signal, this.options); // order (endings.ts)
        if (!this.inState('backoff')) return; // close() ended it
      }
      entry = await this.nextAttempt();
    }
  }

  /**
   * The next attempt's server once its delay is over (reconnect.ts); undefined when the loop
   * ends: closed meanwhile, or out of attempts ('maxReconnects').
   */
  private async nextAttempt(): Promise<PoolEntry | undefined> {
    const from = this.state;
    for (;;) {
      const pool = this.poolReplaced;
      const next = await this.reconnects.next(this.lastInfo);
      if (this.state !== from) return undefined; // closed meanwhile
      if (next instanceof NatsError) {
        this.to({ name: 'closed' }, next);
        return undefined;
      }
      if (next.delay > 0) {
        // The timer keeps the worker alive during backoff, as the socket does otherwise.
        const signal = from.name === 'backoff' ? from.wake.signal : undefined;
        await sleep(next.delay, undefined, { signal }).catch(() => {});
      }
      if (this.state !== from) return undefined;
      // setServerPool() meanwhile: this server came from the old pool and its attempt was
      // counted before the reset; the next comes from the new pool, in its fresh budget.
      if (this.poolReplaced === pool) return next.entry;
    }
  }

  /**
   * The one place the state changes. Stores the edge's state word before announcing it, so the
   * caller's thread reads the new state when it hears of it. `why`: what ended a connection or
   * the client.
   */
  private to(next: LoopState, why?: NatsError): void {
    const effect = edge(this.state.name, next.name);
    this.state = next;
    if (effect.word !== undefined) Atomics.store(this.stateWords, ST_STATE, effect.word); // main reads connectionState()
    if (effect.announce === 'connected') {
      // INFO and pool travel with the event: the caller applies them before its listeners run.
      const info = this.lastInfo as ServerInfo;
      const servers = this.pool.snapshot();
      this.link.settleStart({ ok: true, info, servers });
      this.link.emit({ type: 'connected', connection: this.stats.connects, info, servers });
    } else if (effect.announce === 'disconnected') {
      if (why?.kind === 'protocol') this.link.emit({ type: 'clientError', error: toWire(why) });
      // Why it was lost (stale, io, protocol, forced), unless it was ended on purpose.
      this.link.emit(why ? { type: 'disconnected', error: toWire(why) } : { type: 'disconnected' });
    } else if (effect.announce === 'ended' && why !== undefined) {
      // Whoever still waits hears why: connect()'s caller, else the host, which tears down.
      if (this.link.starting) this.link.settleStart({ ok: false, error: toWire(why) });
      else this.link.call((host) => host.ended(toWire(why)));
    }
    if (next.name === 'closed') {
      this.inbound.close();
      this.stats.store();
      this.link.settleStart({
        ok: false,
        error: toWire(new NatsError('closed', 'client closed before it connected')),
      });
    }
  }

  /** Whether the loop is (still) in `name`; a call, so that it is checked anew after an await. */
  private inState(name: StateName): boolean {
    return this.state.name === name;
  }

  private async shutdown(from: LoopState, withinMs: number): Promise<void> {
    const deadline = performance.now() + withinMs;
    this.pump.stop();
    if (from.name === 'backoff') from.wake.abort();
    if (from.name === 'connected') {
      // Everything published before close() goes out before the socket ends, unless the
      // server does not take it in time.
      if (from.session.isOpen) await this.pump.sendAll(from.session, withinMs);
      this.unsent += this.outbound.discard();
      // Ended gracefully (abandoned by the settle below); one that failed meanwhile counts what
      // its failure took.
      void this.endings.end(from.session);
    } else {
      if (from.name === 'connecting') from.session.fail(new NatsError('closed', 'client closed'));
      this.unsent += this.outbound.discard();
    }
    // This socket and any forceReconnect() left closing: what they could not send is counted
    // once they are done (abandoned at the deadline, or after CLOSE_TIMEOUT_MS: a server that
    // has not read a few buffered bytes by then is not reading), and notSent is read after this.
    await this.endings.settle(Math.min(CLOSE_TIMEOUT_MS, deadline - performance.now()));
    this.to({ name: 'closed' });
    this.link.updates.flush(); // nothing that waits outlives the worker's ports
  }

  private poolChanged(): void {
    this.link.updates.poolChanged();
  }

  /**
   * After each pump: statistics to shared memory; messages it left out because the server
   * cannot take them (larger than its max_payload, or with headers it does not take) are not
   * sent (counted, reported, and the requests among them and the flushes after them fail).
   */
  private pumped(): void {
    this.stats.store();
    const refused = this.outbound.takeRefused();
    if (refused === undefined) return;
    this.unsent += refused.tooLarge + refused.withHeaders;
    for (const request of refused.requests) this.inbound.requestRefused(request);
    this.inbound.flushesLostAfter(refused.afterFlush);
    if (refused.tooLarge > 0) {
      this.reportUnsent(
        'maxPayloadExceeded',
        `not sent, larger than the server's max_payload of ${refused.limit} bytes: ${acceptedMessages(refused.tooLarge)} (counted in notSent)`,
      );
    }
    if (refused.withHeaders > 0) {
      // The kind publishWithHeaders() throws once the caller's thread knows of this server.
      this.reportUnsent(
        'invalidArgument',
        `not sent, the server takes no headers (its INFO says headers: false): ${acceptedMessages(refused.withHeaders)} with headers (counted in notSent)`,
      );
    }
  }

  private reportUnsent(kind: 'maxPayloadExceeded' | 'invalidArgument', message: string): void {
    this.link.emit({ type: 'clientError', error: toWire(new NatsError(kind, message)) });
  }

  /** Keeps `info` as the last INFO; true when it made the pool grow. */
  private recordInfo(info: ServerInfo, server: ServerAddress): boolean {
    this.lastInfo = info;
    Atomics.store(this.stateWords, ST_MAX_PAYLOAD, info.maxPayload); // publish() checks sizes against it
    Atomics.store(this.stateWords, ST_NO_HEADERS, info.headers ? 0 : 1); // and headers against it
    this.outbound.serverTakes(info.maxPayload, info.headers);
    return this.pool.discovered(info.connectUrls, server);
  }

  /** The open session, unless its commands wait for a replay fence (replay-fence.ts). */
  private pumpedSession(): Session | undefined {
    const session = this.openSession();
    return session === undefined || this.fence.holds(session) ? undefined : session;
  }

  /** The session messages come from, while there is one. */
  private openSession(): Session | undefined {
    const state = this.state;
    return state.name === 'connected' ? state.session : undefined;
  }

  // ---- SessionHost ----------------------------------------------------------------------

  /**
   * The handshake is done. Pool, INFO and statistics first, so that 'connected' finds them;
   * then the subscriptions are replayed and the command ring pumped.
   */
  opened(info: ServerInfo): void {
    const state = this.state;
    // Only the session being connected handshakes (close() ends it first): anything else is a bug.
    if (state.name !== 'connecting') throw new Error(`connection: opened while ${state.name}`);
    const { session, entry } = state;
    this.reconnects.connected(entry);
    this.recordInfo(info, session.server);
    if (this.inbound.readingPaused) session.pauseReading(); // the backlog is still full
    if (this.inbound.keepAliveHeld) session.holdKeepAlive(true);
    this.fence.replay(session, this.subs.replay(), this.carriedFlushes);
    this.carriedFlushes = [];
    this.stats.connects++;
    this.stats.store();
    this.lastOpened = session;
    this.to({ name: 'connected', session, entry });
    this.pump.kick();
  }

  message(msg: MsgView): void {
    this.stats.inMessages++;
    const sub = this.subs.get(msg.sid);
    if (sub === undefined) return; // unsubscribed while the message was in flight
    this.inbound.deliver(msg, sub);
    this.subs.received(sub);
  }

  /**
   * A socket forceReconnect() is ending still has its subscriptions at the server; until the
   * next connection opens (and has them too, so nothing would arrive twice), what it reads is
   * delivered: a reply to a request sent just before forceReconnect() comes there. Not once a
   * later session has opened (even one lost since), not after close(), and not while the
   * delivery backlog is full (this socket is not paused with the open one).
   */
  deliversWhileClosing(session: Session): boolean {
    const { name } = this.state;
    return (
      this.lastOpened === session &&
      (name === 'connected' || name === 'backoff' || name === 'connecting') &&
      !this.inbound.readingPaused
    );
  }

  chunkDone(): void {
    // Counters first: a flush ack made visible below must find them up to date.
    this.stats.store();
    this.inbound.chunkDone();
    this.pump.kick();
  }

  /** An INFO on the open connection (cluster changes, lame duck mode). */
  info(info: ServerInfo): void {
    const state = this.state;
    if (state.name !== 'connected') return;
    if (this.recordInfo(info, state.session.server)) this.poolChanged();
    this.link.updates.serverInfo(info, this.stats.connects);
    if (info.lameDuckMode) this.link.emit({ type: 'lameDuckMode' });
  }

  serverError(message: string): void {
    const session = this.openSession();
    if (session !== undefined) this.fence.serverError(message, session);
    this.link.emit({
      type: 'serverError',
      error: toWire(new NatsError('server', message)),
      flushesAcked: this.lastFlushAcked,
    });
  }

  ponged(purpose: PingPurpose): void {
    // The caller's thread tells a connection that answers from one that only opened (flushes.ts).
    Atomics.add(this.stateWords, ST_PONGS, 1);
    if (purpose.kind === 'flush') {
      this.lastFlushAcked = purpose.id;
      this.inbound.flushAck(purpose.id);
    } else if (purpose.kind === 'unsubFence') this.subs.remove(purpose.sid);
    else if (purpose.kind === 'window')
      this.pump.kick(); // the window may have been closed
    else if (purpose.kind === 'replayFence') {
      const session = this.openSession();
      if (session !== undefined && this.fence.answered(session)) this.pump.kick();
    }
  }

  drained(): void {
    this.pump.drained();
  }

  authFields(info: ServerInfo, server: ServerAddress): Promise<Record<string, unknown>> {
    const host = this.link.callbacks as unknown as CallerAuth;
    return authFields(
      this.options.auth,
      server,
      info,
      host,
      this.calls,
      this.options.connectionTimeout,
    );
  }

  counted(inBytes: number, outBytes: number, outMessages: number): void {
    this.stats.inBytes += inBytes;
    this.stats.outBytes += outBytes;
    this.stats.outMessages += outMessages;
  }
}
