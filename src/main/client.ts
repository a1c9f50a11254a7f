/**
 * `Client`: the thin proxy on the caller's thread. Publishing and subscribing write frames
 * into the command ring ({@link Publisher}); messages and flush acknowledgements come back
 * through the delivery ring ({@link Dispatcher}); state and statistics are read from the
 * shared state block; only connect and close cross comlink. It never touches a socket.
 */
import { inspect } from 'node:util';
import * as Comlink from '../shared/comlink.js';
import type { HostCallbacks, StartResult, WireEvent, WireServer } from '../shared/control.js';
import { fromWire, NatsError, type WireError } from '../shared/errors.js';
import { DEFAULT_RING_CAPACITY } from '../shared/layout.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import { validateQueueGroup, validateSubscribeSubject } from '../shared/protocol/subject.js';
import {
  createRingBuffers,
  RingConsumer,
  RingProducer,
  wakeAll,
} from '../shared/ring/byte-ring.js';
import { type ServerInfo, versionAtLeast } from '../shared/server-info.js';
import { authFieldsOf } from './auth.js';
import { Dispatcher } from './dispatcher.js';
import { type Event, fromWireEvent, type State } from './events.js';
import type { Message } from './message.js';
import { type ConnectOptions, type ResolvedOptions, resolveServers } from './options.js';
import { Outgoing, type Payload } from './outgoing.js';
import { Publisher } from './publisher.js';
import { RequestMux, type RequestOptions, uniqueToken } from './request-mux.js';
import { fromWireServer, type Server } from './servers.js';
import { SharedState, type Statistics } from './shared-state.js';
import { type SubscribeOptions, Subscriber, type SubscriptionOwner } from './subscriber.js';
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
  private readonly flushes = new Map<
    number,
    { resolve(): void; reject(e: NatsError): void; timer?: NodeJS.Timeout }
  >();
  private readonly rings = {
    command: createRingBuffers(DEFAULT_RING_CAPACITY),
    delivery: createRingBuffers(DEFAULT_RING_CAPACITY),
  };
  private readonly mux: RequestMux;
  private nextSid = 0;
  private nextFlushId = 0;
  private info: ServerInfo | undefined;
  private pool: Server[];
  private closing: Promise<void> | null = null;
  private closedWith: NatsError | null = null;
  private closedResolve!: (error: NatsError | undefined) => void;
  private readonly closedPromise = new Promise<NatsError | undefined>((resolve) => {
    this.closedResolve = resolve;
  });

  /** @internal use `connect()` */
  constructor(
    servers: ReturnType<typeof resolveServers>,
    private readonly options: ResolvedOptions,
  ) {
    this.pool = servers.map((s) => ({
      url: s.url,
      failedAttempts: 0,
      didConnect: false,
      isDiscovered: false,
    }));
    this.publisher = new Publisher(
      new RingProducer(this.rings.command),
      options.clientCapacity,
      options.maxPendingBytes,
    );
    this.outgoing = new Outgoing(this.publisher, !options.skipSubjectValidation, () =>
      this.shared.maxPayload(),
    );
    this.dispatcher = new Dispatcher(new RingConsumer(this.rings.delivery), {
      subscription: (sid) => this.subs.get(sid),
      flushAcked: (id) => this.flushAcked(id),
      deliveryError: (error, sub) =>
        this.emit({
          type: 'clientError',
          error:
            error instanceof NatsError
              ? error
              : new NatsError(
                  'invalidArgument',
                  `callback of subscription ${sub.sid} (${sub.subject}) threw: ${String(error)}`,
                  {
                    cause: error,
                  },
                ),
        }),
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
      if (!this.closing) void this.shutdown(error);
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
    this.info = result.info ?? this.info;
  }

  /** What the worker may call on this thread (handed over once, as a comlink proxy). */
  private hostCallbacks(): HostCallbacks {
    return {
      event: (event: WireEvent) => this.emit(fromWireEvent(event)),
      serverInfo: (info: ServerInfo) => {
        this.info = info;
      },
      serverPool: (servers: WireServer[]) => {
        this.pool = servers.map(fromWireServer);
      },
      ended: (error: WireError) => {
        const natsError = fromWire(error);
        this.emit({ type: 'clientError', error: natsError });
        void this.shutdown(natsError);
      },
      reconnectDelay: (attempts: number) => this.options.reconnectDelayCallback?.(attempts) ?? 0,
      reconnectToServer: async (servers: WireServer[], info: ServerInfo) =>
        (await this.options.reconnectToServerCallback?.(servers.map(fromWireServer), info)) ?? null,
      signNonce: async (nonce: Uint8Array) => {
        const signature = await this.options.signNonce?.(nonce);
        if (!(signature instanceof Uint8Array)) {
          throw new NatsError('callback', 'the jwt sign callback must return a Uint8Array');
        }
        return signature;
      },
      authenticate: async (nonce: Uint8Array) =>
        authFieldsOf(await this.options.authCallback?.(nonce)),
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
    if (this.closedWith) {
      return Promise.reject(new NatsError('closed', `request to ${subject} on a closed client`));
    }
    return this.mux.send(subject, request, this.options.requestTimeout);
  }

  /** `<inboxPrefix>.<unique>` */
  newInbox(): string {
    return `${this.options.inboxPrefix}.${uniqueToken()}`;
  }

  private send(
    subject: string,
    reply: string | undefined,
    headers: HeaderMap | undefined,
    payload?: Payload,
  ): boolean {
    if (this.closedWith) throw new NatsError('closed', `publish to ${subject} on a closed client`);
    return this.outgoing.send(subject, reply, headers, payload);
  }

  // ---- subscribing ----------------------------------------------------------------------

  subscribe(subject: string, opts?: SubscribeOptions): Subscriber {
    validateSubscribeSubject(subject);
    return this.addSubscription(subject, undefined, opts);
  }

  queueSubscribe(subject: string, queueGroup: string, opts?: SubscribeOptions): Subscriber {
    validateSubscribeSubject(subject);
    validateQueueGroup(queueGroup);
    return this.addSubscription(subject, queueGroup, opts);
  }

  private addSubscription(
    subject: string,
    queue: string | undefined,
    opts: SubscribeOptions | undefined,
  ): Subscriber {
    if (this.closedWith)
      throw new NatsError('closed', `subscribe to ${subject} on a closed client`);
    const cb = opts?.callback;
    if (cb !== undefined && typeof cb !== 'function') {
      throw new NatsError('invalidArgument', `callback must be a function, got ${typeof cb}`);
    }
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
      this.options.worker.subscriptionCapacity,
    );
    this.subs.set(sid, sub);
    sub.ended.then(() => this.subs.delete(sid));
    return sub;
  }

  /** @internal SubscriptionOwner */
  unsubscribe(sub: Subscriber, max: number): void {
    if (this.closedWith) return;
    this.publisher.control({ kind: 'unsub', sid: sub.sid, max });
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
      const timeout = this.options.requestTimeout;
      if (timeout !== null) {
        entry.timer = setTimeout(() => {
          this.flushes.delete(id);
          reject(new NatsError('timedOut', `flush not acknowledged within ${timeout} ms`));
        }, timeout);
      }
      this.flushes.set(id, entry);
      this.publisher.control({ kind: 'flush', id });
    });
  }

  private flushAcked(id: number): void {
    const entry = this.flushes.get(id);
    if (!entry) return;
    this.flushes.delete(id);
    clearTimeout(entry.timer);
    entry.resolve();
  }

  /**
   * Drain every subscription (no new messages, those on their way still delivered), let what
   * was published reach the server, then close.
   */
  async drain(): Promise<void> {
    if (this.closedWith) throw new NatsError('closed', 'drain on a closed client');
    this.emit({ type: 'draining' });
    const subs = [...this.subs.values()];
    for (const sub of subs) this.unsubscribe(sub, 0);
    try {
      // Its PONG comes after every message the server sent before the UNSUBs.
      await this.flush();
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
        await this.publisher.drained(this.options.worker.connectionTimeout);
      }
      if (this.publisher.waiting > 0) {
        this.emit({
          type: 'clientError',
          error: new NatsError(
            'closed',
            `closed with ${this.publisher.waiting} published messages not sent (disconnected or too slow)`,
          ),
        });
      }
      this.publisher.publishNow();
      this.closedWith = error ?? new NatsError('closed', 'client is closed');
      try {
        await this.host.call((api) => api.close());
      } catch {
        // the worker is gone already: nothing left to close there
      }
      this.dispatcher.stop();
      this.publisher.close(this.closedWith);
      wakeAll(this.rings.command); // no waitAsync stays pending
      wakeAll(this.rings.delivery);
      for (const entry of this.flushes.values()) {
        clearTimeout(entry.timer);
        entry.reject(new NatsError('closed', 'client closed before the flush completed'));
      }
      this.flushes.clear();
      this.mux.close(new NatsError('closed', 'client closed before the reply arrived'));
      for (const sub of this.subs.values()) sub.end();
      await this.host.shutdown();
      if (emitClosed) this.emit({ type: 'closed' });
      this.closedResolve(error);
    })();
    return this.closing;
  }

  // ---- state ----------------------------------------------------------------------------

  connectionState(): State {
    return this.closedWith ? 'closed' : this.shared.state();
  }

  /** The last INFO the server sent. */
  serverInfo(): ServerInfo {
    if (!this.info) throw new NatsError('invalidArgument', 'no INFO received yet');
    return { ...this.info };
  }

  isServerCompatible(major: number, minor: number, patch: number): boolean {
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
    return this.options.requestTimeout;
  }

  /** No options in inspect output: they hold secrets (tokens, seeds, TLS keys). */
  [inspect.custom](): string {
    return `Client { state: '${this.connectionState()}', server: ${JSON.stringify(this.info?.serverId ?? null)} }`;
  }

  private emit(event: Event): void {
    const cb = this.options.eventCallback;
    if (!cb) return;
    try {
      Promise.resolve(cb(event)).catch(() => {});
    } catch {
      // a throwing event callback must not break the client
    }
  }
}
