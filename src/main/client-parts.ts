/**
 * The parts a Client is made of and which part talks to which: the rings and the
 * worker they are shared with, the publisher and its checks, subscriptions, flushes, the
 * dispatcher, the request mux and the lifecycle that drains and closes them in order. The
 * Client (client.ts) is the public surface over them.
 */
import { DEFAULT_RING_CAPACITY } from '../shared/layout.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import { validateSubscribeSubject } from '../shared/protocol/subject.js';
import { createRingBuffers } from '../shared/ring/byte-ring.js';
import { RingConsumer } from '../shared/ring/ring-consumer.js';
import { RingProducer } from '../shared/ring/ring-producer.js';
import { CallBound } from './call-bound.js';
import { Dispatcher } from './dispatcher.js';
import type { Event } from './events.js';
import { Flushes } from './flushes.js';
import { SubjectInterest } from './interest.js';
import { Lifecycle } from './lifecycle.js';
import { Outgoing, type Payload } from './outgoing.js';
import { endRefused } from './permissions.js';
import { Publisher } from './publisher.js';
import { RequestMux } from './request-mux.js';
import type { ResolvedOptions } from './resolved-options.js';
import type { resolveServers } from './servers.js';
import { SharedState } from './shared-state.js';
import type { SubscribeOptions, Subscriber } from './subscriber.js';
import { Subscriptions } from './subscriptions.js';
import { WorkerHost, type WorkerLink, type WorkerStart } from './worker-host.js';

export interface ClientParts {
  /** State and statistics the worker writes to shared memory. */
  readonly shared: SharedState;
  readonly publisher: Publisher;
  readonly outgoing: Outgoing;
  readonly subs: Subscriptions;
  readonly flushes: Flushes;
  readonly dispatcher: Dispatcher;
  readonly host: WorkerLink;
  readonly mux: RequestMux;
  /** Open, draining, closing, closed: drain() and close() run there. */
  readonly life: Lifecycle;
  /** How many flushes, rtt()s and requests may wait for answers at once. */
  readonly calls: CallBound;
}

/** What the parts ask of the client they make up. */
export interface ClientSide {
  flush(): Promise<void>;
  subscribe(subject: string, opts?: SubscribeOptions): Subscriber;
  /**
   * A publish through the client's checks (a reply to a request, a request itself);
   * `replyBytes`: see Outgoing.send.
   */
  send(
    subject: string,
    reply: string | undefined,
    headers: HeaderMap | undefined,
    payload?: Payload,
    replyBytes?: number,
  ): boolean;
  /** Message.respond: the client's respondTo(). */
  respond(reply: string, headers: HeaderMap | undefined, payload?: Payload): boolean;
  emit(event: Event): void;
}

/** Spawns a client's connection worker. */
export const spawnWorker = (data: WorkerStart): WorkerLink => new WorkerHost(data);

/** Builds the parts of a client for `servers` and starts its worker with `worker`. */
export function clientParts(
  servers: ReturnType<typeof resolveServers>,
  options: ResolvedOptions,
  client: ClientSide,
  worker: (data: WorkerStart) => WorkerLink,
): ClientParts {
  const rings = {
    command: createRingBuffers(DEFAULT_RING_CAPACITY),
    delivery: createRingBuffers(DEFAULT_RING_CAPACITY),
  };
  const shared = new SharedState();
  const interest = new SubjectInterest(!options.worker.noEcho);
  const publisher = new Publisher(
    new RingProducer(rings.command),
    options.clientCapacity,
    options.maxPendingBytes,
  );
  const outgoing = new Outgoing(
    publisher,
    !options.skipSubjectValidation,
    () => shared.maxPayload(),
    interest,
    () => shared.serverHeaders(),
  );
  // Where timeouts are decided: once what arrived by then is dispatched (made below).
  const afterArrived = (run: () => void) => dispatcher.afterArrived(run);
  const subs = new Subscriptions(publisher, interest, options.worker.subscriptionCapacity, {
    isClosed: (): boolean => life.closedWith !== null,
    flush: () => client.flush(),
    emit: (event) => client.emit(event),
    afterArrived,
  });
  const flushes = new Flushes(
    (id) => {
      mux.flushMade(id); // behind every request made so far
      publisher.control({ kind: 'flush', id });
    },
    options.requestTimeout,
    options.worker.connectionTimeout,
    () => shared.state() === 'connected',
    () => shared.connects(),
    () => shared.pongs(),
    afterArrived,
  );
  const dispatcher: Dispatcher = new Dispatcher(new RingConsumer(rings.delivery), {
    subscription: (sid) => subs.get(sid),
    flushAcked: (id) => flushes.acked(id),
    flushLost: (id) => flushes.lost(id),
    flushesLostAfter: (id) => flushes.lostAfter(id),
    subscriptionRefused: (sid) => endRefused(subs.get(sid), subs, mux),
    replyDropped: (id) => mux.replyDropped(id),
    requestRefused: (id, withHeaders) => mux.requestRefused(id, withHeaders),
    inboxRefused: (sid, withHeaders) => mux.inboxRefused(subs.get(sid), withHeaders),
    deliveryError: (error, sub) => subs.callbackFailed(sub, error),
    respond: (reply, headers, payload) => client.respond(reply, headers, payload),
  });
  const host = worker({
    options: { ...options.worker, servers },
    command: rings.command,
    delivery: rings.delivery,
    state: shared.buffer,
  });
  const mux = new RequestMux(
    {
      subscribe: (subject, opts) => client.subscribe(subject, opts),
      subscribeReplies: (subject, opts) => {
        validateSubscribeSubject(subject); // the inbox prefix option's own check is looser
        return subs.add(subject, undefined, opts, true);
      },
      publishRequest: (subject, reply, headers, payload, replyBytes) =>
        client.send(subject, reply, headers, payload, replyBytes),
      afterArrived,
      isClosed: () => life.closedWith !== null,
      assertCallRoom: (what) => calls.assertRoom(what),
    },
    options.inboxPrefix,
  );
  const calls = new CallBound(options.maxPendingBytes, () => flushes.waiting + mux.waitingCalls);
  const life: Lifecycle = new Lifecycle({
    publisher,
    dispatcher,
    host,
    rings,
    flushes,
    mux,
    subs,
    requestTimeout: options.requestTimeout,
    connectionTimeout: options.worker.connectionTimeout,
    emit: (event) => client.emit(event),
    connectionState: () => shared.state(), // the worker's word, ahead of the 'connected' event
    flush: () => client.flush(),
  });
  host.exited.then((error) => {
    if (!life.isClosing) life.ended(error);
  });
  return { shared, publisher, outgoing, subs, flushes, dispatcher, host, mux, life, calls };
}
