/**
 * A nats.js v3 `NatsConnection` over a nats-offload {@link Client}: what `@nats-io/jetstream`,
 * `@nats-io/kv`, `@nats-io/obj` and `@nats-io/services` use of a connection, public and
 * internal (`options.inboxPrefix`, `features`, `getServerVersion()`, close listeners, `_resub`,
 * `msg.publisher`), with every byte going through the client's worker. Errors are nats.js's
 * (errors.ts), from the `@nats-io/nats-core` copy the add-ons load.
 */
import type {
  Msg,
  NatsConnection,
  Payload,
  PublishOptions,
  QueuedIterator,
  RequestManyOptions,
  RequestOptions,
  Server,
  ServerInfo,
  Stats,
  Subscription,
  SubscriptionOptions,
} from '@nats-io/nats-core';
import type { Features, SemVer } from '@nats-io/nats-core/internal';
import type { Client } from '../main/client.js';
import type { Message } from '../main/message.js';
import { resolveServers, serverList } from '../main/servers.js';
import type { SubscribeOptions, Subscriber } from '../main/subscriber.js';
import { describe } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { AckRequests } from './ack-requests.js';
import { toNatsJsError, toRequestError } from './errors.js';
import { CompatMsg, type MsgHost, toHeaderMap } from './msg.js';
import { requestMany } from './request-many.js';
import { ServerView } from './server-view.js';
import { natsJsStatus, type StatusIterator } from './status.js';
import { CompatSubscription } from './subscription.js';

/** nats.js's default request timeout, used when a request gives none. */
const DEFAULT_REQUEST_TIMEOUT = 1000;

/**
 * How far `drain()` has gone, in nats.js's order: `'subscriptions'` while every subscription
 * drains (new subscriptions and requests are refused; publishing, and so replying, goes on),
 * then `'flush'` (publishes are refused too) until the flush and the close.
 */
type DrainStage = 'none' | 'subscriptions' | 'flush';

/** nats.js's internal close listener (jetstream `consumer.js`). */
export interface CloseListener {
  connectionClosedCallback(err?: Error): void;
}

export class CompatConnection implements NatsConnection {
  /** nats.js's parsed options; the add-ons read `inboxPrefix`. */
  readonly options: { inboxPrefix: string };
  /**
   * nats.js's protocol handler as `JsMsg.ackAck()` reaches it through `msg.publisher`.
   *
   * @internal
   */
  readonly publisher: AckRequests;
  /** What the messages this connection hands out reply through. */
  private readonly msgHost: MsgHost;
  private readonly server: ServerView;
  private readonly subscriptions = new Map<number, CompatSubscription>();
  private readonly closeListeners = new Set<CloseListener>();
  private drainStage: DrainStage = 'none';

  constructor(private readonly client: Client) {
    const inbox = client.newInbox();
    this.options = { inboxPrefix: inbox.slice(0, inbox.lastIndexOf('.')) };
    this.server = new ServerView(() => client.serverInfo());
    const respond = (reply: string, payload?: Payload, opts?: PublishOptions) =>
      this.respondTo(reply, payload, opts);
    this.publisher = new AckRequests({
      newInbox: () => client.newInbox(),
      sendRequest: (subject, request) => client.sendRequest(subject, request),
      requestTimeout: () => client.timeout(),
      publish: (subject, payload, opts) => this.publish(subject, payload, opts),
      respond,
    });
    this.msgHost = { respond, publisher: this.publisher };
    void client.closed().then((error) => {
      for (const listener of [...this.closeListeners]) {
        try {
          listener.connectionClosedCallback(error);
        } catch {
          // a listener's failure is its own (nats.js ignores it too)
        }
      }
      this.closeListeners.clear();
    });
  }

  /** The INFO of the server, snake_case as the server sent it; undefined once closed. */
  get info(): ServerInfo | undefined {
    return this.isClosed() ? undefined : this.server.info();
  }

  get features(): Features {
    return this.server.features();
  }

  getServerVersion(): SemVer | undefined {
    return this.isClosed() ? undefined : this.server.version();
  }

  // ---- publishing -----------------------------------------------------------------------

  publish(subject: string, payload?: Payload, options?: PublishOptions): void {
    if (this.drainStage !== 'none') this.refuseNewWork(`publish to ${describe(subject)}`, 'flush');
    try {
      this.send(subject, payload, options);
    } catch (error) {
      throw toNatsJsError(error, subject);
    }
  }

  /**
   * A received message's `respond()`. nats.js writes it to its protocol handler, past the
   * connection's checks: sent while the connection drains (the messages its drain still
   * delivers are answered), ignored once it is closed, as there (never thrown: in an async
   * handler a throw would end the process). Bad input still throws.
   */
  private respondTo(reply: string, payload?: Payload, options?: PublishOptions): void {
    try {
      const headers = toHeaderMap(options?.headers);
      this.client.respondTo(reply, headers, payload, options?.reply || undefined);
    } catch (error) {
      if (error instanceof NatsError && error.kind === 'closed') return;
      throw toNatsJsError(error, reply);
    }
  }

  /** A nats.js publish as the client's; throws the client's NatsError. */
  private send(subject: string, payload?: Payload, options?: PublishOptions): void {
    const headers = toHeaderMap(options?.headers);
    const reply = options?.reply;
    if (reply === undefined || reply === '') {
      if (headers) this.client.publishWithHeaders(subject, headers, payload);
      else this.client.publish(subject, payload);
    } else if (headers) {
      this.client.publishWithReplyAndHeaders(subject, reply, headers, payload);
    } else {
      this.client.publishWithReply(subject, reply, payload);
    }
  }

  publishMessage(msg: Msg): void {
    this.publish(msg.subject, msg.data, { reply: msg.reply, headers: msg.headers });
  }

  respondMessage(msg: Msg): boolean {
    if (!msg.reply) return false;
    this.publish(msg.reply, msg.data, { reply: msg.reply, headers: msg.headers });
    return true;
  }

  // ---- subscribing ----------------------------------------------------------------------

  subscribe(subject: string, opts: SubscriptionOptions = {}): Subscription {
    checkOptions('subscribe', opts);
    this.refuseNewWork(`subscribe to ${describe(subject)}`, 'subscriptions');
    const sub = new CompatSubscription(
      {
        ...this.msgHost,
        subscribe: (s, queue, o) => this.coreSubscribe(s, queue, o),
        ended: (ended) => this.forget(ended),
        connectionClosed: () => this.isClosed(),
      },
      subject,
      opts,
    );
    this.subscriptions.set(sub.sid, sub);
    return sub;
  }

  /**
   * nats.js internal: the ordered consumer's reset moves its subscription to a new inbox. As
   * in nats.js, the subscription's `max` is replaced by `max` more messages (none if omitted).
   */
  _resub(sub: Subscription, subject: string, max?: number): void {
    if (!(sub instanceof CompatSubscription)) return;
    this.subscriptions.delete(sub.sid);
    sub.moveTo(subject, max);
    if (!sub.isClosed()) this.subscriptions.set(sub.sid, sub);
  }

  private forget(sub: CompatSubscription): void {
    if (this.subscriptions.get(sub.sid) === sub) this.subscriptions.delete(sub.sid);
  }

  private coreSubscribe(
    subject: string,
    queue: string | undefined,
    opts: SubscribeOptions,
  ): Subscriber {
    try {
      // nats.js takes an empty queue group as none (services pass `queue: ""`).
      return queue === undefined || queue === ''
        ? this.client.subscribe(subject, opts)
        : this.client.queueSubscribe(subject, queue, opts);
    } catch (error) {
      throw toNatsJsError(error, subject);
    }
  }

  // ---- requests -------------------------------------------------------------------------

  async request(subject: string, payload?: Payload, opts?: Partial<RequestOptions>): Promise<Msg> {
    if (opts !== undefined) checkOptions('request', opts);
    if (opts?.reply && !opts.noMux) {
      // nats.js refuses it too: only a request on its own inbox can name the inbox.
      throw new NatsError('invalidArgument', "request options 'reply' and 'noMux' go together");
    }
    this.refuseNewWork(`request to ${describe(subject)}`, 'subscriptions');
    const timeout = opts?.timeout || DEFAULT_REQUEST_TIMEOUT;
    try {
      const message = await this.client.sendRequest(subject, {
        payload,
        headers: toHeaderMap(opts?.headers),
        timeout,
        inbox: opts?.noMux ? (opts.reply ?? this.client.newInbox()) : undefined,
      });
      return this.toMsg(message);
    } catch (error) {
      throw toRequestError(error, subject);
    }
  }

  async requestMany(
    subject: string,
    payload?: Payload,
    opts: Partial<RequestManyOptions> = {},
  ): Promise<QueuedIterator<Msg>> {
    try {
      checkOptions('requestMany', opts);
      this.refuseNewWork(`request to ${describe(subject)}`, 'subscriptions');
      return await requestMany(
        {
          ...this.msgHost,
          requestMany: (s, p, o) => this.client.requestMany(s, p, o),
        },
        subject,
        payload,
        opts,
      );
    } catch (error) {
      throw toNatsJsError(error, subject);
    }
  }

  private toMsg(message: Message): Msg {
    return new CompatMsg(message, 0, this.msgHost);
  }

  // ---- state and control ----------------------------------------------------------------

  status(): StatusIterator {
    return natsJsStatus({
      events: () => this.client.status(),
      disconnected: () => this.client.connectionState() === 'disconnected',
      server: () => this.getServer(),
      subscription: (sid) => this.subscriptions.get(sid),
    });
  }

  closed(): Promise<Error | undefined> {
    return this.client.closed();
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /**
   * nats.js's drain, not the client's: every subscription drains while a handler may still
   * reply, then publishing stops, a flush, and the close. A request still waiting is failed by
   * the close, as in nats.js, where the client's drain() would wait for its reply.
   */
  async drain(): Promise<void> {
    this.refuseNewWork('drain', 'subscriptions');
    this.drainStage = 'subscriptions';
    await Promise.allSettled([...this.subscriptions.values()].map((sub) => sub.drain()));
    this.drainStage = 'flush';
    try {
      await this.client.flush();
    } catch (error) {
      // Refused as one call too many waiting (CallBound) or past maxPendingBytes: the close
      // below writes what was published, as the client's own drain() does.
      if (!(error instanceof NatsError && error.kind === 'clientCapacity')) {
        throw toNatsJsError(error);
      }
    } finally {
      await this.client.close();
    }
  }

  /** nats.js's checks before new work: a closed connection, then a drain that reached `stage`. */
  private refuseNewWork(what: string, stage: Exclude<DrainStage, 'none'>): void {
    if (this.isClosed()) {
      throw toNatsJsError(new NatsError('closed', `${what} on a closed connection`));
    }
    if (this.drainStage === 'flush' || this.drainStage === stage) {
      throw toNatsJsError(new NatsError('draining', `${what} after drain() started`));
    }
  }

  flush(): Promise<void> {
    return asNatsJs(this.client.flush());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.isClosed()) return;
    if (this.drainStage === 'none') await this.drain();
    else await this.client.closed();
  }

  isClosed(): boolean {
    return this.client.connectionState() === 'closed';
  }

  /** As nats.js's: true from drain() on, also once it has closed the connection. */
  isDraining(): boolean {
    return this.drainStage !== 'none';
  }

  getServer(): string {
    const { host, port } = this.client.serverInfo();
    return host ? `${host}:${port}` : '';
  }

  /** @throws NatsError `'invalidOption'` for a list setServerPool() refuses (nats.js throws too). */
  setServers(servers: string[]): void {
    const list = serverList(servers); // read once: what is checked is what is set
    resolveServers(list);
    this.client.setServerPool(list).catch(() => {
      // checked above; a client closed meanwhile keeps no pool
    });
  }

  getServers(): ReadonlyArray<Server> {
    return this.client.serverPool().map(({ url, isDiscovered }) => {
      const { hostname, port } = new URL(url);
      return {
        hostname,
        port: Number(port),
        listen: `${hostname}:${port}`,
        src: url,
        tlsName: '',
        gossiped: isDiscovered,
        resolve: async () => [],
      } as unknown as Server;
    });
  }

  stats(): Stats {
    const { inBytes, outBytes, inMessages, outMessages } = this.client.statistics();
    return { inBytes, outBytes, inMsgs: inMessages, outMsgs: outMessages };
  }

  rtt(): Promise<number> {
    return asNatsJs(this.client.rtt());
  }

  /** As nats.js's: refused on a closed connection, then from drain() on. */
  reconnect(): Promise<void> {
    if (this.isClosed()) {
      return Promise.reject(
        toNatsJsError(new NatsError('closed', 'reconnect() on a closed connection')),
      );
    }
    if (this.isDraining()) {
      return Promise.reject(
        toNatsJsError(new NatsError('draining', 'reconnect() after drain() started')),
      );
    }
    return asNatsJs(this.client.forceReconnect());
  }

  /** nats.js internal: called once when the connection closes (with the error, if any). */
  addCloseListener(listener: CloseListener): void {
    this.closeListeners.add(listener);
  }

  removeCloseListener(listener: CloseListener): void {
    this.closeListeners.delete(listener);
  }
}

/** The client's promise, rejecting with the error nats.js would have. */
async function asNatsJs<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw toNatsJsError(error);
  }
}

/** Options must be an object: anything else is the caller's bad input, never a raw TypeError. */
function checkOptions(method: string, opts: unknown): void {
  if (opts === null || typeof opts !== 'object') {
    throw new NatsError(
      'invalidArgument',
      `${method} options must be an object, got ${describe(opts)}`,
    );
  }
}
