/**
 * `Client`: the thin proxy on the caller's thread. Publishing and subscribing write frames
 * into the command ring ({@link Publisher}); messages and flush acknowledgements come back
 * through the delivery ring ({@link Dispatcher}); state and statistics are read from the
 * shared state block; only connect and close cross comlink. It never touches a socket.
 */
import { inspect } from 'node:util';
import * as Comlink from '../shared/comlink.js';
import type {
  HostCallbacks,
  HostUpdate,
  StartResult,
  WireEvent,
  WireServer,
} from '../shared/control.js';
import { describe, describeError } from '../shared/describe.js';
import { fromWire, NatsError, type WireError } from '../shared/errors.js';
import { DEFAULT_RING_CAPACITY } from '../shared/layout.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import { validateQueueGroup, validateSubscribeSubject } from '../shared/protocol/subject.js';
import { createRingBuffers, wakeAll } from '../shared/ring/byte-ring.js';
import { RingConsumer } from '../shared/ring/ring-consumer.js';
import { RingProducer } from '../shared/ring/ring-producer.js';
import { defaultServerInfo, type ServerInfo, versionAtLeast } from '../shared/server-info.js';
import { authFieldsOf } from './auth.js';
import { Dispatcher } from './dispatcher.js';
import { type Event, EventSink, fromWireEvent, type State } from './events.js';
import { SubjectInterest } from './interest.js';
import type { Message } from './message.js';
import type { ConnectOptions } from './options.js';
import { Outgoing, type Payload } from './outgoing.js';
import { Publisher } from './publisher.js';
import { RequestMux, type RequestOptions, uniqueToken } from './request-mux.js';
import type { ResolvedOptions } from './resolved-options.js';
import { fromWireServer, resolveServers, type Server } from './servers.js';
import { SharedState, type Statistics } from './shared-state.js';
import {
  callbackOf,
  type SubscribeOptions,
  Subscriber,
  type SubscriptionOwner,
} from './subscriber.js';
import { WorkerHost } from './worker-host.js';

/** Start a client: spawn its worker and wait until it is connected (or failed). */
export async function createClient(
  servers: string | string[],
  options: ConnectOptions,
): Promise<Client> {
  const resolved = options.resolve();
  const addresses = resolveServers(servers);
  if (addresses.some((s) => s.scheme === 'ws' || s.scheme === 'wss')) {
    // Parsed and validated already (pool rules), but no WebSocket transport exists yet:
    // say so at once instead of speaking NATS over TCP to an HTTP port.
    throw new NatsError('invalidOption', 'ws:// and wss:// servers are not supported yet');
  }
  const client = new Client(addresses, resolved);
  await client.start();
  return client;
}

/**
 * A connection to NATS whose socket lives on a worker thread.
 *
 * @example
 * const client = await connect('nats://127.0.0.1:4222');
 * client.subscribe('greet', { callback: (m) => console.log(m.string()) });
 * client.publish('greet', 'hello');
 * await client.flush();
 * await client.close();
 */
export class Client implements SubscriptionOwner {
  private readonly host: WorkerHost;
  private readonly publisher: Publisher;
  private readonly outgoing: Outgoing;
  private readonly dispatcher: Dispatcher;
  private readonly shared = new SharedState();
  private readonly subs = new Map<number, Subscriber>();
  private readonly interest: SubjectInterest;
  private readonly flushes = new Map<
    number,
    { resolve(): void; reject(e: NatsError): void; timer?: NodeJS.Timeout }
  >();
  private readonly rings = {
    command: createRingBuffers(DEFAULT_RING_CAPACITY),
    delivery: createRingBuffers(DEFAULT_RING_CAPACITY),
  };
  private readonly mux: RequestMux;
  private readonly events: EventSink;
  private nextSid = 0;
  private nextFlushId = 0;
  private info: ServerInfo | undefined;
  private pool: Server[];
  private closing: Promise<void> | null = null;
  private closedWith: NatsError | null = null;
  /** drain() has started: new publishes, subscriptions and requests fail with 'draining'. */
  private draining: Promise<void> | null = null;
  /** When the client was last seen without a connection (null while connected). */
  private notConnectedSince: number | null = performance.now();
  /** Fails pending flushes once the client has been without a connection for too long. */
  private disconnectBound: NodeJS.Timeout | undefined;
  private closedResolve!: (error: NatsError | undefined) => void;
  private readonly closedPromise = new Promise<NatsError | undefined>((resolve) => {
    this.closedResolve = resolve;
  });

  /**
   * The resolved options: secrets in clear (token, password, seed, JWT, TLS key). Private by
   * `#`, so neither `util.inspect` (any options), `JSON.stringify`, `Object.keys` nor a spread
   * of the client reaches them.
   */
  readonly #options: ResolvedOptions;

  /** @internal use `connect()` */
  constructor(servers: ReturnType<typeof resolveServers>, options: ResolvedOptions) {
    this.#options = options;
    this.events = new EventSink(options.eventCallback);
    this.pool = servers.map((s) => ({
      url: s.url,
      failedAttempts: 0,
      didConnect: false,
      isDiscovered: false,
    }));
    this.interest = new SubjectInterest(!options.worker.noEcho);
    this.publisher = new Publisher(
      new RingProducer(this.rings.command),
      options.clientCapacity,
      options.maxPendingBytes,
    );
    this.outgoing = new Outgoing(
      this.publisher,
      !options.skipSubjectValidation,
      () => this.shared.maxPayload(),
      this.interest,
    );
    this.dispatcher = new Dispatcher(new RingConsumer(this.rings.delivery), {
      subscription: (sid) => this.subs.get(sid),
      flushAcked: (id) => this.flushAcked(id),
      deliveryError: (error, sub) => this.callbackFailed(sub, error),
    });
    this.host = new WorkerHost({
      options: { ...options.worker, servers },
      command: this.rings.command,
      delivery: this.rings.delivery,
      state: this.shared.buffer,
    });
    this.mux = new RequestMux(
      {
        subscribe: (subject, opts) => this.subscribe(subject, opts),
        publishRequest: (subject, reply, headers, payload) =>
          this.send(subject, reply, headers, payload),
      },
      options.inboxPrefix,
    );
    this.host.exited.then((error) => {
      if (this.closing) return;
      this.emit({ type: 'clientError', error });
      void this.shutdown(error);
    });
  }

  /** @internal */
  async start(): Promise<void> {
    const callbacks = this.hostCallbacks();
    this.dispatcher.start();
    let result: StartResult;
    try {
      result = await this.host.call(
        (api) => api.start(Comlink.proxy(callbacks)) as Promise<StartResult>,
      );
    } catch (error) {
      await this.shutdown(error as NatsError);
      throw error;
    }
    if (!result.ok) {
      const error = fromWire(result.error);
      await this.shutdown(error, false);
      throw error;
    }
    // The reply comes on another port than the 'connected' event and carries the same; unless
    // that event (or a later one) came first.
    if (result.info && result.servers && !this.info) {
      this.connectionChanged({ type: 'connected', info: result.info, servers: result.servers });
    }
  }

  /** What the worker may call on this thread (handed over once, as a comlink proxy). */
  private hostCallbacks(): HostCallbacks {
    return {
      update: (update: HostUpdate) => {
        if (update.info) this.info = update.info;
        if (update.servers) this.pool = update.servers.map(fromWireServer);
        for (const event of update.events) {
          this.connectionChanged(event);
          this.emit(fromWireEvent(event));
        }
      },
      ended: (error: WireError) => {
        const natsError = fromWire(error);
        this.emit({ type: 'clientError', error: natsError });
        void this.shutdown(natsError);
      },
      reconnectDelay: (attempts: number) => this.#options.reconnectDelayCallback?.(attempts) ?? 0,
      reconnectToServer: async (servers: WireServer[], info: ServerInfo) =>
        (await this.#options.reconnectToServerCallback?.(servers.map(fromWireServer), info)) ??
        null,
      signNonce: async (nonce: Uint8Array) => {
        const signature = await this.#options.signNonce?.(nonce);
        if (!(signature instanceof Uint8Array)) {
          throw new NatsError('callback', 'the jwt sign callback must return a Uint8Array');
        }
        return signature;
      },
      authenticate: async (nonce: Uint8Array) =>
        authFieldsOf(await this.#options.authCallback?.(nonce)),
    };
  }

  // ---- publishing -----------------------------------------------------------------------

  /** Publish; returns false once `clientCapacity` messages wait on this thread (await `writable()`). */
  publish(subject: string, payload?: Payload): boolean {
    return this.send(subject, undefined, undefined, payload);
  }

  publishWithHeaders(subject: string, headers: HeaderMap, payload?: Payload): boolean {
    return this.send(subject, undefined, headers, payload);
  }

  publishWithReply(subject: string, reply: string, payload?: Payload): boolean {
    return this.send(subject, reply, undefined, payload);
  }

  publishWithReplyAndHeaders(
    subject: string,
    reply: string,
    headers: HeaderMap,
    payload?: Payload,
  ): boolean {
    return this.send(subject, reply, headers, payload);
  }

  /** Resolves when publishing may go on (nothing waits on this thread any more). */
  writable(): Promise<void> {
    return this.publisher.writable();
  }

  // ---- requests -------------------------------------------------------------------------

  /** Request/reply through the shared inbox; rejects 'noResponders' on a 503, 'timedOut' past `requestTimeout`. */
  request(subject: string, payload?: Payload): Promise<Message> {
    return this.sendRequest(subject, { payload });
  }

  requestWithHeaders(subject: string, headers: HeaderMap, payload?: Payload): Promise<Message> {
    return this.sendRequest(subject, { payload, headers });
  }

  /** `timeout` overrides the default (`null` = none); a custom `inbox` bypasses the multiplexer. */
  sendRequest(subject: string, request: RequestOptions): Promise<Message> {
    try {
      this.refuseNewWork('request');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.mux.send(subject, request, this.#options.requestTimeout);
  }

  /** `<inboxPrefix>.<unique>` */
  newInbox(): string {
    return `${this.#options.inboxPrefix}.${uniqueToken()}`;
  }

  private send(
    subject: string,
    reply: string | undefined,
    headers: HeaderMap | undefined,
    payload?: Payload,
  ): boolean {
    if (this.closedWith !== null || this.draining !== null) this.refuseNewWork('publish');
    try {
      return this.outgoing.send(subject, reply, headers, payload);
    } catch (error) {
      // Checks throw NatsErrors; anything else came from reading the caller's arguments
      // (a Proxy's trap, a HeaderMap look-alike): still the caller's argument at fault.
      if (error instanceof NatsError) throw error;
      throw new NatsError(
        'invalidArgument',
        `publish to ${describe(subject)}: an argument could not be read`,
        { cause: error },
      );
    }
  }

  // ---- subscribing ----------------------------------------------------------------------

  subscribe(subject: string, opts?: SubscribeOptions): Subscriber {
    this.checkOpen('subscribe to', subject);
    validateSubscribeSubject(subject);
    return this.addSubscription(subject, undefined, opts);
  }

  queueSubscribe(subject: string, queueGroup: string, opts?: SubscribeOptions): Subscriber {
    this.checkOpen('subscribe to', subject);
    validateSubscribeSubject(subject);
    validateQueueGroup(queueGroup);
    return this.addSubscription(subject, queueGroup, opts);
  }

  private checkOpen(what: string, subject: unknown): void {
    if (this.closedWith) {
      throw new NatsError('closed', `${what} ${describe(subject)} on a closed client`);
    }
  }

  private addSubscription(
    subject: string,
    queue: string | undefined,
    opts: SubscribeOptions | undefined,
  ): Subscriber {
    this.refuseNewWork('subscribe');
    const cb = callbackOf(opts);
    const sid = ++this.nextSid;
    // The SUB frame first: if it cannot be queued, nothing is registered. Deliveries for it
    // are dispatched on a later turn, after the registration below.
    this.publisher.control({ kind: 'sub', sid, subject, queue });
    const sub = new Subscriber(
      this,
      sid,
      subject,
      queue,
      cb,
      this.#options.worker.subscriptionCapacity,
    );
    this.subs.set(sid, sub);
    this.interest.add(subject);
    sub.closed.then(() => {
      this.subs.delete(sid);
      this.interest.remove(subject);
    });
    return sub;
  }

  /** @internal SubscriptionOwner */
  unsubscribe(sub: Subscriber, max: number): void {
    if (this.closedWith) return;
    this.publisher.control({ kind: 'unsub', sid: sub.sid, max });
  }

  /**
   * @internal SubscriptionOwner: a subscription callback threw (or its promise rejected)
   * something; reported, and delivery goes on.
   */
  callbackFailed(sub: Subscriber, error: unknown): void {
    this.emit({
      type: 'clientError',
      error: new NatsError(
        'callback',
        `callback of subscription ${sub.sid} (${describe(sub.subject)}) failed: ${describeError(error)}`,
        { cause: error },
      ),
    });
  }

  /** @internal SubscriptionOwner */
  slowConsumer(sub: Subscriber): void {
    this.emit({ type: 'slowConsumer', sid: sub.sid });
  }

  /** @internal SubscriptionOwner: UNSUB, then a flush: its PONG comes after every message sent before the UNSUB. */
  async drainSubscription(sub: Subscriber): Promise<void> {
    this.unsubscribe(sub, 0);
    try {
      await this.flush();
    } finally {
      sub.end();
    }
  }

  // ---- control --------------------------------------------------------------------------

  /** Resolves when everything published before it has reached the server (a PING/PONG round trip). */
  flush(): Promise<void> {
    if (this.closedWith) return Promise.reject(new NatsError('closed', 'flush on a closed client'));
    const id = ++this.nextFlushId >>> 0;
    return new Promise<void>((resolve, reject) => {
      const entry: { resolve(): void; reject(e: NatsError): void; timer?: NodeJS.Timeout } = {
        resolve,
        reject,
      };
      const timeout = this.#options.requestTimeout;
      if (timeout !== null) {
        entry.timer = setTimeout(() => {
          this.flushes.delete(id);
          reject(new NatsError('timedOut', `flush not acknowledged within ${timeout} ms`));
        }, timeout);
      }
      this.flushes.set(id, entry);
      this.publisher.control({ kind: 'flush', id });
      this.armDisconnectBound();
    });
  }

  /** Throws 'closed' or 'draining' when `what` may not start any more. */
  private refuseNewWork(what: string): void {
    if (this.closedWith) throw new NatsError('closed', `${what} on a closed client`);
    if (this.draining) throw new NatsError('draining', `${what} after drain() started`);
  }

  /**
   * Applies what a connection event describes before anyone hears of it: a 'connected' event's
   * INFO and pool, and how long the client has been without a connection (the flush bound).
   */
  private connectionChanged(event: WireEvent): void {
    if (event.type === 'connected') {
      if (event.info) this.info = event.info;
      if (event.servers) this.pool = event.servers.map(fromWireServer);
      this.notConnectedSince = null;
      clearTimeout(this.disconnectBound);
      this.disconnectBound = undefined;
    } else if (event.type === 'disconnected') {
      this.notConnectedSince = performance.now();
      this.armDisconnectBound();
    }
  }

  /**
   * API.md "Every promise settles": flushes (and so drain) reject 'timedOut' once the client
   * has been without a connection for 2 × connectionTimeout, even with requestTimeout(null).
   */
  private armDisconnectBound(): void {
    const since = this.notConnectedSince;
    if (since === null || this.flushes.size === 0 || this.disconnectBound !== undefined) return;
    const bound = 2 * this.#options.worker.connectionTimeout;
    this.disconnectBound = setTimeout(
      () => {
        this.disconnectBound = undefined;
        const error = new NatsError(
          'timedOut',
          `flush not acknowledged: no connection for ${bound} ms (2 × connectionTimeout)`,
        );
        for (const entry of this.flushes.values()) {
          clearTimeout(entry.timer);
          entry.reject(error);
        }
        this.flushes.clear();
      },
      Math.max(0, bound - (performance.now() - since)),
    );
    this.disconnectBound.unref(); // the worker keeps the process alive, not this bound
  }

  private flushAcked(id: number): void {
    const entry = this.flushes.get(id);
    if (!entry) return;
    this.flushes.delete(id);
    clearTimeout(entry.timer);
    entry.resolve();
  }

  /**
   * Drain: from now on new publishes, subscriptions and requests fail with 'draining'; every
   * subscription stops (messages already on their way are still delivered), requests already
   * waiting get their replies (within their timeouts, and at most
   * max(requestTimeout, 2 × connectionTimeout)), what was published reaches the server, then
   * the client closes. Rejects 'timedOut' (and closes) when it cannot finish because the client
   * has been without a connection for 2 × connectionTimeout.
   */
  drain(): Promise<void> {
    if (this.closedWith) return Promise.reject(new NatsError('closed', 'drain on a closed client'));
    this.draining ??= this.runDrain();
    return this.draining;
  }

  private async runDrain(): Promise<void> {
    this.emit({ type: 'draining' });
    const subs = [...this.subs.values()].filter((sub) => !this.mux.owns(sub));
    for (const sub of subs) this.unsubscribe(sub, 0);
    try {
      // Its PONG comes after every message the server sent before the UNSUBs.
      await this.flush();
      for (const sub of subs) sub.end();
      const requestTimeout = this.#options.requestTimeout ?? 0;
      await settledWithin(
        this.mux.settled(),
        Math.max(requestTimeout, 2 * this.#options.worker.connectionTimeout),
      );
    } finally {
      for (const sub of subs) sub.end();
      await this.close();
    }
  }

  /** Close now: what is already published is sent, then the worker ends and the process may exit. */
  close(): Promise<void> {
    return this.shutdown(undefined);
  }

  /** Snapshot of the server pool: explicit and discovered servers with their attempt history. */
  serverPool(): Server[] {
    return this.pool.map((s) => ({ ...s }));
  }

  /**
   * Replace the pool; servers in both keep their state, and the reconnect attempt counter
   * resets. An empty list or one mixing WebSocket with other schemes rejects 'invalidOption'.
   */
  async setServerPool(urls: string[]): Promise<void> {
    if (this.closedWith) throw new NatsError('closed', 'setServerPool on a closed client');
    const servers = resolveServers(urls);
    await this.host.call((api) => api.setServerPool(servers));
  }

  /** Drop the connection and reconnect (the auth callback runs again, subscriptions are replayed). */
  forceReconnect(): Promise<void> {
    if (this.closedWith)
      return Promise.reject(new NatsError('closed', 'forceReconnect on a closed client'));
    return this.host.call((api) => api.forceReconnect());
  }

  /** Settles when the client is closed: undefined after close(), else the error that ended it. */
  closed(): Promise<NatsError | undefined> {
    return this.closedPromise;
  }

  private shutdown(error: NatsError | undefined, emitClosed = true): Promise<void> {
    this.closing ??= (async () => {
      const workerAlive = error?.kind !== 'workerExited';
      if (workerAlive && this.publisher.waiting > 0 && this.connectionState() === 'connected') {
        // Publishes still waiting on this thread get their chance to reach the ring first
        // (the worker sends the whole ring before it ends the socket), within a bound.
        await this.publisher.drained(this.#options.worker.connectionTimeout);
      }
      /** What closed() settles with: the error that ended the client, else what was not sent. */
      let outcome = error;
      // What still waits on this thread is not sent; the worker says how much of the ring.
      let notSent = this.publisher.waitingMessages;
      this.publisher.publishNow();
      this.closedWith = error ?? new NatsError('closed', 'client is closed');
      try {
        notSent += await this.host.call((api) => api.close());
      } catch {
        // the worker is gone already: nothing left to close there
      }
      if (notSent > 0) {
        const unsent = new NatsError(
          'notSent',
          `${notSent} accepted messages were not sent (disconnected, or the server did not read them within connectionTimeout)`,
          { count: notSent },
        );
        this.emit({ type: 'clientError', error: unsent });
        outcome ??= unsent;
      }
      this.dispatcher.stop();
      this.publisher.close(this.closedWith);
      wakeAll(this.rings.command); // no waitAsync stays pending
      wakeAll(this.rings.delivery);
      clearTimeout(this.disconnectBound);
      // A dead worker is what pending calls learn; otherwise that the client closed.
      const died = error?.kind === 'workerExited' ? error : undefined;
      for (const entry of this.flushes.values()) {
        clearTimeout(entry.timer);
        entry.reject(died ?? new NatsError('closed', 'client closed before the flush completed'));
      }
      this.flushes.clear();
      this.mux.close(died ?? new NatsError('closed', 'client closed before the reply arrived'));
      for (const sub of this.subs.values()) sub.end(error);
      await this.host.shutdown();
      if (emitClosed) this.emit({ type: 'closed' });
      this.closedResolve(outcome);
    })();
    return this.closing;
  }

  // ---- state ----------------------------------------------------------------------------

  connectionState(): State {
    return this.closedWith ? 'closed' : this.shared.state();
  }

  /** The last INFO the server sent; before the first, empty strings and maxPayload 1 MiB. */
  serverInfo(): ServerInfo {
    return { ...(this.info ?? defaultServerInfo()) };
  }

  isServerCompatible(major: number, minor: number, patch: number): boolean {
    for (const [name, n] of [
      ['major', major],
      ['minor', minor],
      ['patch', patch],
    ] as const) {
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        throw new NatsError(
          'invalidArgument',
          `isServerCompatible: ${name} must be a non-negative integer, got ${describe(n)}`,
        );
      }
    }
    return this.info !== undefined && versionAtLeast(this.info.version, major, minor, patch);
  }

  /** The server's max_payload (1 MiB before the first INFO). */
  maxPayload(): number {
    return this.shared.maxPayload();
  }

  /** Counters read from shared memory, no round trip. */
  statistics(): Statistics {
    return this.shared.statistics();
  }

  /** The default request timeout (ms), or null. */
  timeout(): number | null {
    return this.#options.requestTimeout;
  }

  /** What `JSON.stringify` shows: the state and the server, nothing of the options (secrets). */
  toJSON(): { state: State; server: string | null } {
    return { state: this.connectionState(), server: this.info?.serverId ?? null };
  }

  /** No options in inspect output: they hold secrets (tokens, seeds, TLS keys). */
  [inspect.custom](): string {
    const { state, server } = this.toJSON();
    return `Client { state: '${state}', server: ${JSON.stringify(server)} }`;
  }

  private emit(event: Event): void {
    this.events.emit(event);
  }
}

/** Resolves when `promise` settles or `ms` have passed, whichever is first; never rejects. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    bound,
  ]).finally(() => clearTimeout(timer));
}
