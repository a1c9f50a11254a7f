/**
 * `Client`: the thin proxy on the caller's thread. Publishing and subscribing write frames
 * into the command ring ({@link Publisher}); messages and flush acknowledgements come back
 * through the delivery ring ({@link Dispatcher}); state and statistics are read from the
 * shared state block; only connect and close cross comlink. It never touches a socket.
 *
 * This module implements the public surface (documented once, in client-api.ts); client-parts.ts
 * builds the parts it delegates to and connects them. Each owns one concern: subscriptions.ts
 * (sids, SUB/UNSUB, what a Subscriber asks of its owner), flushes.ts (pending flushes and their
 * bounds), lifecycle.ts (drain and close), host-callbacks.ts (what the worker may call here),
 * servers.ts (the pool and INFO as the worker last told them).
 */
import { inspect } from 'node:util';
import * as Comlink from '../shared/comlink.js';
import type { HostUpdate, StartResult, WireEvent } from '../shared/control.js';
import { describe, describeError } from '../shared/describe.js';
import { fromWire, NatsError } from '../shared/errors.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import { validateQueueGroup, validateSubscribeSubject } from '../shared/protocol/subject.js';
import { canWaitAsync } from '../shared/ring/wake.js';
import type { ServerInfo } from '../shared/server-info.js';
import type { ClientApi } from './client-api.js';
import { type ClientParts, clientParts, spawnWorker } from './client-parts.js';
import { type Event, EventSink, fromWireEvent, type State } from './events.js';
import { hostCallbacks } from './host-callbacks.js';
import { cutShortBy } from './lifecycle.js';
import type { Message } from './message.js';
import type { ConnectOptions } from './options.js';
import type { Payload } from './outgoing.js';
import { routePermissionViolation } from './permissions.js';
import { type RequestManyOptions, requestMany } from './request-many.js';
import { uniqueToken } from './request-mux.js';
import type { RequestOptions } from './request-options.js';
import type { ResolvedOptions } from './resolved-options.js';
import { resolveServers, type Server, ServerView } from './servers.js';
import type { Statistics } from './shared-state.js';
import { StatusReaders } from './status.js';
import type { SubscribeOptions, Subscriber } from './subscriber.js';
import { warmUp } from './warm-up.js';
import type { WorkerLink, WorkerStart } from './worker-host.js';

/** Start a client: spawn its worker and wait until it is connected (or failed). */
export async function createClient(
  servers: string | string[],
  options: ConnectOptions,
): Promise<Client> {
  const resolved = options.resolve();
  const addresses = resolveServers(servers);
  let client: Client;
  try {
    if (!canWaitAsync) throw new Error('Atomics.waitAsync is missing');
    client = new Client(addresses, resolved);
  } catch (error) {
    // Past the checks above, only the runtime can refuse: shared memory or a worker thread.
    if (error instanceof NatsError) throw error;
    throw new NatsError(
      'unsupported',
      `this runtime cannot host the client (it needs SharedArrayBuffer, Atomics.waitAsync and worker threads): ${describeError(error)}`,
      { cause: error },
    );
  }
  const started = client.start(); // its first message to the worker is posted by now
  // While the worker starts, on the other core: this thread's hot paths, once per process.
  const warmed = warmUp();
  await started;
  await warmed;
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
export class Client implements ClientApi {
  /** What it delegates to (client-parts.ts): publisher, subscriptions, worker, lifecycle… */
  private readonly parts: ClientParts;
  private readonly events: EventSink;
  /** The pool and the last INFO, as the worker last told this thread. */
  private readonly servers: ServerView;
  private readonly statusReaders = new StatusReaders();
  /** A 'connected' event is being handed to the eventCallback (connectionState() says so). */
  private announcing = false;

  /**
   * The resolved options: secrets in clear (token, password, seed, JWT, TLS key). Private by
   * `#`, so neither `util.inspect` (any options), `JSON.stringify`, `Object.keys` nor a spread
   * of the client reaches them.
   */
  readonly #options: ResolvedOptions;

  /**
   * Not for user code: use `connect()`. (Kept in the declarations, left out of the API
   * reference: without it TypeScript would offer a constructor that takes nothing.)
   *
   * @hidden
   */
  constructor(
    servers: ReturnType<typeof resolveServers>,
    options: ResolvedOptions,
    worker: (data: WorkerStart) => WorkerLink = spawnWorker,
  ) {
    this.#options = options;
    this.events = new EventSink(options.eventCallback, options.worker.connectionTimeout, (report) =>
      this.emit(report),
    );
    this.servers = new ServerView(servers);
    this.parts = clientParts(
      servers,
      options,
      {
        flush: () => this.ownFlush(),
        subscribe: (subject, opts) => this.subscribe(subject, opts),
        send: (subject, reply, headers, payload, replyBytes) =>
          this.send(subject, reply, headers, payload, replyBytes),
        respond: (reply, headers, payload) => this.respondTo(reply, headers, payload),
        emit: (event) => this.emit(event),
      },
      worker,
    );
    void this.parts.life.closed.then(() => this.statusReaders.end()); // after the 'closed' event
  }

  /** @internal */
  async start(): Promise<void> {
    const callbacks = hostCallbacks(this.#options, {
      updated: (update) => this.hostUpdated(update),
      ended: (error) => this.parts.life.ended(error),
    });
    this.parts.dispatcher.start();
    let result: StartResult;
    try {
      result = await this.parts.host.call(
        (api) => api.start(Comlink.proxy(callbacks)) as Promise<StartResult>,
      );
      // Connected (not retryOnInitialConnect): the 'connected' event comes on another port than
      // this reply; connect() resolves once it (and every event before it) has been heard.
      if (result.ok && result.info) await this.parts.host.call(() => this.events.connected);
    } catch (error) {
      await this.parts.life.shutdown(error as NatsError);
      throw error;
    }
    if (!result.ok) {
      const error = fromWire(result.error);
      await this.parts.life.shutdown(error, false);
      throw error;
    }
  }

  /** The worker's batched update: INFO and pool, then each event, applied before it is heard of. */
  private hostUpdated(update: HostUpdate): void {
    this.servers.update(update.info, update.servers);
    // A newer connection's INFO without its 'connected' event: the event was dropped from a
    // full queue (host-updates.ts), the connection is heard of all the same.
    if (update.infoOf !== undefined && update.infoOf > this.parts.flushes.heardConnection) {
      this.parts.flushes.connected(update.infoOf);
    }
    for (const event of update.events) {
      this.connectionChanged(event);
      this.announcing = event.type === 'connected';
      try {
        this.emit(fromWireEvent(event));
      } finally {
        this.announcing = false;
      }
    }
  }

  // ---- publishing -----------------------------------------------------------------------

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

  writable(): Promise<void> {
    // From close()'s first step: the publisher still moves what waits, nothing more may come.
    const closed = this.parts.life.closedWith;
    if (closed) return Promise.reject(cutShortBy(closed, 'publishing could go on'));
    return this.parts.publisher.writable();
  }

  // ---- requests -------------------------------------------------------------------------

  request(subject: string, payload?: Payload): Promise<Message> {
    return this.requestShared(subject, undefined, payload);
  }

  requestWithHeaders(subject: string, headers: HeaderMap, payload?: Payload): Promise<Message> {
    return this.requestShared(subject, headers, payload);
  }

  requestMany(
    subject: string,
    payload?: Payload,
    opts?: RequestManyOptions,
  ): AsyncIterable<Message> {
    this.parts.life.refuseNewWork('request');
    this.parts.calls.assertRoom('requestMany');
    return requestMany(
      {
        newInbox: () => this.newInbox(),
        subscribe: (inbox, opts) => this.subscribe(inbox, opts),
        publishRequest: (s, reply, headers, data) => this.send(s, reply, headers, data),
        gathering: (sub, s, until) => this.parts.mux.gathering(sub, s, until),
        afterArrived: (run) => this.parts.dispatcher.afterArrived(run),
        closedError: () => {
          const ended = this.parts.life.closedWith;
          return ended === null ? undefined : cutShortBy(ended, 'the requestMany ended');
        },
      },
      subject,
      payload,
      opts,
      this.#options.requestTimeout,
    );
  }

  sendRequest(subject: string, request: RequestOptions): Promise<Message> {
    try {
      this.parts.life.refuseNewWork('request');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.parts.mux.send(subject, request, this.#options.requestTimeout);
  }

  private requestShared(
    subject: string,
    headers: HeaderMap | undefined,
    payload: Payload | undefined,
  ): Promise<Message> {
    try {
      this.parts.life.refuseNewWork('request');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.parts.mux.sendShared(subject, headers, payload, this.#options.requestTimeout);
  }

  newInbox(): string {
    return `${this.#options.inboxPrefix}.${uniqueToken()}`;
  }

  /**
   * A reply to a received message (Message.respond, the compat layer's): sent while drain()
   * runs, as the messages drain() still delivers are to be answered (nats.js sends them too);
   * refused once the client is closed.
   *
   * @internal
   */
  respondTo(
    reply: string,
    headers: HeaderMap | undefined,
    payload?: Payload,
    replyTo?: string,
  ): boolean {
    return this.send(reply, replyTo, headers, payload, undefined, true);
  }

  /** `whileDraining`: a reply, which drain() does not refuse (respondTo). */
  private send(
    subject: string,
    reply: string | undefined,
    headers: HeaderMap | undefined,
    payload?: Payload,
    replyBytes?: number,
    whileDraining = false,
  ): boolean {
    const { life } = this.parts;
    if (life.closedWith !== null || (life.isDraining && !whileDraining)) {
      life.refuseNewWork('publish');
    }
    try {
      return this.parts.outgoing.send(subject, reply, headers, payload, replyBytes);
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
    if (this.parts.life.closedWith) {
      throw new NatsError('closed', `${what} ${describe(subject)} on a closed client`);
    }
  }

  private addSubscription(
    subject: string,
    queue: string | undefined,
    opts: SubscribeOptions | undefined,
  ): Subscriber {
    this.parts.life.refuseNewWork('subscribe');
    return this.parts.subs.add(subject, queue, opts);
  }

  // ---- control --------------------------------------------------------------------------

  flush(): Promise<void> {
    try {
      this.parts.calls.assertRoom('flush');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.ownFlush();
  }

  /** A flush of the client's own (drain's, a subscription's drain): never refused for CallBound. */
  private ownFlush(): Promise<void> {
    if (this.parts.life.closedWith)
      return Promise.reject(new NatsError('closed', 'flush on a closed client'));
    return this.parts.flushes.flush();
  }

  /**
   * Applies what a connection event describes before anyone hears of it: a 'connected' event's
   * INFO and pool, and how long the client has been without a connection (the flush bound).
   */
  private connectionChanged(event: WireEvent): void {
    if (event.type === 'serverError') {
      routePermissionViolation(
        event.error.message,
        event.flushesAcked,
        this.parts.mux,
        this.parts.subs.list(),
      );
    }
    if (event.type === 'connected') {
      this.servers.update(event.info, event.servers);
      this.parts.flushes.connected(event.connection); // serverInfo(), serverPool() describe it
    } else if (event.type === 'disconnected') {
      this.parts.flushes.disconnected();
    }
  }

  drain(): Promise<void> {
    if (this.parts.life.closedWith)
      return Promise.reject(new NatsError('closed', 'drain on a closed client'));
    return this.parts.life.drain();
  }

  close(): Promise<void> {
    return this.parts.life.shutdown(undefined);
  }

  serverPool(): Server[] {
    return this.servers.serverPool();
  }

  async setServerPool(urls: string[]): Promise<void> {
    if (this.parts.life.closedWith)
      throw new NatsError('closed', 'setServerPool on a closed client');
    const servers = resolveServers(urls);
    const pool = await this.parts.host.call((api) => api.setServerPool(servers));
    this.servers.update(undefined, pool); // current when this call resolves
  }

  forceReconnect(): Promise<void> {
    if (this.parts.life.closedWith)
      return Promise.reject(new NatsError('closed', 'forceReconnect on a closed client'));
    // Publishes still batched on this thread reach the ring first: the worker writes what the
    // ring holds to the old socket before it ends it (API.md: sent on the old connection).
    this.parts.publisher.publishNow();
    return this.parts.host.call((api) => api.forceReconnect());
  }

  closed(): Promise<NatsError | undefined> {
    return this.parts.life.closed;
  }

  // ---- state ----------------------------------------------------------------------------

  /**
   * API.md "What you observe is consistent": 'connected' only once serverInfo() and
   * serverPool() describe that connection (the event that brings them has been applied).
   */
  connectionState(): State {
    if (this.parts.life.closedWith) return 'closed';
    // Also a connection lost again while this thread was busy: its listeners observe it.
    if (this.announcing) return 'connected';
    const { shared } = this.parts;
    const state = shared.state();
    if (state !== 'connected') return state;
    // 'connected' is the connection serverInfo() and serverPool() describe, or none: the worker
    // stores 'connected' before the event that brings its INFO and pool, not reported till then.
    const described = this.parts.flushes.heardConnection;
    if (shared.connects() === described) return state;
    return described === 0 ? 'pending' : 'disconnected';
  }

  serverInfo(): ServerInfo {
    return this.servers.serverInfo();
  }

  isServerCompatible(major: number, minor: number, patch: number): boolean {
    return this.servers.isServerCompatible(major, minor, patch);
  }

  maxPayload(): number {
    return this.parts.shared.maxPayload();
  }

  statistics(): Statistics {
    const stats = this.parts.shared.statistics();
    stats.droppedMessages += this.parts.subs.droppedMessages; // the worker's and this thread's
    return stats;
  }

  timeout(): number | null {
    return this.#options.requestTimeout;
  }

  rtt(): Promise<number> {
    const start = performance.now();
    // Not an async function: its own promise and frame were ~400 B more per waiting call.
    return this.flush().then(() => performance.now() - start);
  }

  status(): AsyncIterable<Event> {
    return this.statusReaders.open();
  }

  /** `drain()`, so that `await using client = await connect(...)` drains at the block's end. */
  [Symbol.asyncDispose](): Promise<void> {
    if (this.parts.life.closedWith) return Promise.resolve();
    return this.drain().catch((error: unknown) => {
      // A close() cut the drain short: the client ends as the block's end asks.
      if (error instanceof NatsError && error.kind === 'closed') return;
      throw error;
    });
  }

  /**
   * What `JSON.stringify` shows: the state and the server, nothing of the options (secrets).
   *
   * @internal
   */
  toJSON(): { state: State; server: string | null } {
    return { state: this.connectionState(), server: this.servers.info?.serverId ?? null };
  }

  /** No options in inspect output: they hold secrets (tokens, seeds, TLS keys). */
  [inspect.custom](): string {
    const { state, server } = this.toJSON();
    return `Client { state: '${state}', server: ${JSON.stringify(server)} }`;
  }

  private emit(event: Event): void {
    this.events.emit(event);
    this.statusReaders.push(event);
  }
}
