/**
 * Request/reply over one shared wildcard inbox (`<prefix>.<id>.*`) instead of a subscription
 * per request: each request gets an id (the reply subject's last token), and replies are
 * routed by it. The SUB frame goes through the command ring before the first request's PUB, so
 * it is registered in time.
 */
import { randomBytes } from 'node:crypto';
import { describe } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { MAX_TIMER_MS } from '../shared/options.js';
import { type HeaderMap, NO_RESPONDERS } from '../shared/protocol/headers.js';
import { requestIdAt } from '../shared/protocol/request-id.js';
import { type Deadline, Deadlines } from './deadlines.js';
import { cutShortBy } from './lifecycle.js';
import type { Message } from './message.js';
import { type RequestOptions, readRequest } from './request-options.js';
import { notSent, replyDropped, type Settling, settle, timedOut } from './request-outcomes.js';
import { RequestTable } from './request-table.js';
import type { KnownSubjects, SubscribeOptions, Subscriber } from './subscriber.js';

export interface MuxHost {
  /** A request's own inbox (the caller's `inbox`: checked as any subscription). */
  subscribe(subject: string, opts: SubscribeOptions): Subscriber;
  /**
   * The shared inbox's subscription: never dropped for `subscriptionCapacity` (the worker's
   * receive policy), as its replies are as many as the requests waiting for them.
   */
  subscribeReplies(subject: string, opts: SubscribeOptions): Subscriber;
  /** Runs `run` once what arrived by now is dispatched (Dispatcher.afterArrived). */
  afterArrived(run: () => void): void;
  /** Whether the client is closed or closing (its subscriptions then end without a reply). */
  isClosed(): boolean;
  /** Throws 'clientCapacity' when one more request would be too many waiting (CallBound). */
  assertCallRoom(what: string): void;
  /**
   * Publish with a reply subject (and headers); throws synchronously on bad input.
   * `replyBytes`: the reply's UTF-8 length, given for the multiplexer's own inbox subjects,
   * which are not checked again per request.
   */
  publishRequest(
    subject: string,
    reply: string,
    headers: HeaderMap | undefined,
    payload: Uint8Array | string | undefined,
    replyBytes?: number,
  ): void;
}

/**
 * Flushes whose request numbers {@link RequestMux.flushMade} keeps: a -ERR names one of the
 * newest (the last acknowledged before it), and older ones cost nothing but precision.
 */
const MAX_FLUSHES_KEPT = 64;

/** A request on its own inbox or gathering replies: its subject and its number. */
interface Sent {
  subject: string;
  number: number;
  /** A requestMany's maxWait, as a performance.now() time (-Infinity: none). */
  until?: number;
}

/** A request waiting on the shared inbox, under its id; expires as a 'timedOut' rejection. */
class PendingRequest implements Settling, Deadline {
  at = 0;
  slot = -1;
  constructor(
    readonly subject: string,
    readonly id: number,
    /** The subject its reply comes on: also the reply Message's subject, so never decoded. */
    readonly reply: string,
    readonly timeout: number | null,
    readonly resolve: (msg: Message) => void,
    readonly reject: (error: NatsError) => void,
    private readonly mux: RequestMux,
  ) {}

  expire(): void {
    this.mux.expired(this);
  }
}

/** A unique, subject-safe token (base64url of random bytes). */
export function uniqueToken(): string {
  return randomBytes(12).toString('base64url');
}

export class RequestMux implements KnownSubjects {
  private readonly prefix: string;
  /** {@link prefix}'s UTF-8 length: where a reply subject's id starts in its bytes. */
  private readonly prefixBytes: number;
  /** {@link prefix} as UTF-8: a reply's subject must start with it to be one of these. */
  private readonly prefixUtf8: Uint8Array;
  private sub: Subscriber | null = null;
  /** By id: the reply subject's last token, in base 36. */
  private readonly pending = new RequestTable<PendingRequest>();
  /** The request {@link subjectAt} found for the reply being dispatched: route() takes it. */
  private matched: PendingRequest | undefined;
  /** The timeouts of all requests, shared inbox or own, on one timer. */
  private readonly deadlines: Deadlines;
  /** Subscriptions of requests with their own inbox, until their reply (or end), and the request. */
  private readonly inboxes = new Map<Subscriber, Sent>();
  /** requestMany's inboxes, until they end, and the request each gathers replies to. */
  private readonly gatherers = new Map<Subscriber, Sent>();
  /**
   * The newest flushes and the request number each was made after ({@link flushMade}), oldest
   * first: a request at or below a flush's number was published before it.
   */
  private readonly flushedAfter: { flush: number; request: number }[] = [];
  /** Resolves {@link settled}'s promise once nothing waits any more. */
  private idle: (() => void) | null = null;
  /** Numbers every request, in publish order (also the shared inbox's reply tokens). */
  private next = 0;
  /** What {@link capture} took from the promise being made. */
  private resolveNext: ((msg: Message) => void) | null = null;
  private rejectNext: ((error: NatsError) => void) | null = null;

  constructor(
    private readonly host: MuxHost,
    inboxPrefix: string,
  ) {
    this.deadlines = new Deadlines((run) => host.afterArrived(run));
    this.prefix = `${inboxPrefix}.${uniqueToken()}.`;
    this.prefixUtf8 = Buffer.from(this.prefix);
    this.prefixBytes = this.prefixUtf8.length;
  }

  /** Send a request; bad input rejects (never throws), as for every Promise-returning method. */
  send(subject: string, request: RequestOptions, defaultTimeout: number | null): Promise<Message> {
    try {
      const { payload, headers, timeout: given, inbox } = readRequest(request);
      const timeout = given === undefined ? defaultTimeout : given;
      if (
        timeout !== null &&
        (typeof timeout !== 'number' ||
          !Number.isInteger(timeout) ||
          timeout < 0 ||
          timeout > MAX_TIMER_MS)
      ) {
        throw new NatsError(
          'invalidArgument',
          `request timeout must be null or an integer number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${describe(timeout)}`,
        );
      }
      if (inbox === undefined) return this.request(subject, headers, payload, timeout);
      return this.requestOnInbox(subject, { payload, headers }, inbox, timeout);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * {@link send} on the shared inbox with the client's own (checked) timeout: `request()` and
   * `requestWithHeaders()`, without an options object to make and read per request.
   */
  sendShared(
    subject: string,
    headers: HeaderMap | undefined,
    payload: Uint8Array | string | undefined,
    timeout: number | null,
  ): Promise<Message> {
    try {
      return this.request(subject, headers, payload, timeout);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private request(
    subject: string,
    headers: HeaderMap | undefined,
    payload: Uint8Array | string | undefined,
    timeout: number | null,
  ): Promise<Message> {
    this.host.assertCallRoom('request');
    if (this.sub === null) {
      this.sub = this.host.subscribeReplies(`${this.prefix}*`, { callback: this.route });
      this.sub.knownSubjects = this;
    }
    // One executor for every request: a closure per request was ~100 bytes more to collect.
    const promise = new Promise<Message>(this.capture);
    const resolve = this.resolveNext as (msg: Message) => void;
    const reject = this.rejectNext as (error: NatsError) => void;
    this.resolveNext = this.rejectNext = null; // they would keep the last reply alive
    const id = ++this.next;
    // Base 36, which V8 does not cache: its cache of decimal strings would keep each one alive
    // past the request (measured: +0.6 µs of GC per request).
    const reply = this.prefix + id.toString(36);
    try {
      // The prefix was checked with the options, and the id is ASCII.
      const replyBytes = this.prefixBytes + reply.length - this.prefix.length;
      this.host.publishRequest(subject, reply, headers, payload, replyBytes);
    } catch (error) {
      reject(error as NatsError);
      return promise;
    }
    const entry = new PendingRequest(subject, id, reply, timeout, resolve, reject, this);
    this.pending.add(entry);
    if (timeout !== null) this.deadlines.add(entry, timeout);
    return promise;
  }

  private readonly capture = (
    resolve: (msg: Message) => void,
    reject: (error: NatsError) => void,
  ): void => {
    this.resolveNext = resolve;
    this.rejectNext = reject;
  };

  /** @internal A request's deadline passed (PendingRequest.expire). */
  expired(entry: PendingRequest): void {
    if (this.pending.get(entry.id) !== entry) return; // its reply came meanwhile, or close()
    this.pending.delete(entry);
    this.changed();
    entry.reject(timedOut(entry.subject, entry.timeout));
  }

  /**
   * The worker dropped a reply to request `id`: the caller's thread was stalled past the byte
   * bound. A request settles on its first reply, so it fails now, rather than waiting (maybe
   * forever) for another responder's reply.
   */
  replyDropped(id: number): void {
    this.failPending(id, replyDropped);
  }

  /**
   * The worker left request `id` out unsent: accepted before the server it was to go to said it
   * cannot take it (its max_payload, or `withHeaders` and no headers). It fails now.
   */
  requestRefused(id: number, withHeaders: boolean): void {
    this.failPending(id, (subject) => notSent(subject, withHeaders));
  }

  /** {@link requestRefused} for the request (or requestMany) whose own inbox is `sub`. */
  inboxRefused(sub: Subscriber | undefined, withHeaders: boolean): void {
    if (sub === undefined) return; // ended meanwhile
    const sent = this.inboxes.get(sub) ?? this.gatherers.get(sub);
    if (sent !== undefined) sub.fail(notSent(sent.subject, withHeaders)); // else the user's own
  }

  /** Fail request `id` on the shared inbox, if it still waits, with `error(subject)`. */
  private failPending(id: number, error: (subject: string) => NatsError): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return; // answered by another reply, timed out, or not one of ours
    this.pending.delete(entry);
    this.deadlines.remove(entry);
    this.changed();
    entry.reject(error(entry.subject));
  }

  /** A request with its own inbox: a subscription that ends after one message. */
  private requestOnInbox(
    subject: string,
    request: RequestOptions,
    inbox: string,
    timeout: number | null,
  ): Promise<Message> {
    this.host.assertCallRoom('request');
    return new Promise<Message>((resolve, reject) => {
      const deadline: Deadline = {
        at: 0,
        slot: -1,
        expire: () => {
          if (sub.isClosed) return; // its reply came meanwhile, or close()
          void sub.unsubscribe();
          reject(timedOut(subject, timeout));
        },
      };
      // max: 1 queues the UNSUB with the SUB, both or neither (subscriptions.ts).
      const sub = this.host.subscribe(inbox, {
        max: 1,
        callback: (msg) => {
          this.deadlines.remove(deadline);
          // nats-server does not count its no-responders status against the UNSUB limit: it
          // would keep the inbox subscribed for good.
          if (msg.status === NO_RESPONDERS) void sub.unsubscribe();
          settle({ subject, resolve, reject }, msg);
        },
      });
      // Ends without a reply through close(), or while open when the worker reached its limit
      // of one message by dropping it (a settled promise ignores this).
      this.inboxes.set(sub, { subject, number: ++this.next });
      sub.closed.then((error) => {
        this.inboxes.delete(sub);
        this.changed();
        this.deadlines.remove(deadline);
        // Ended with the client: 'closed' as for every request waiting then (what ended the
        // client, e.g. 'maxReconnects', is closed()'s), unless the worker died.
        const closed = this.host.isClosed();
        if (error !== undefined) reject(closed ? cutShortBy(error, 'the reply arrived') : error);
        else if (closed)
          reject(new NatsError('closed', `request to ${subject} ended before a reply`));
        else reject(replyDropped(subject));
      });
      try {
        this.host.publishRequest(subject, inbox, request.headers, request.payload);
      } catch (error) {
        void sub.unsubscribe();
        reject(error);
        return;
      }
      if (timeout !== null) this.deadlines.add(deadline, timeout);
    });
  }

  /** Whether `sub` is the shared inbox's subscription. */
  isSharedInbox(sub: Subscriber): boolean {
    return sub === this.sub;
  }

  /**
   * The server denied the shared inbox's subscription (nats.js closes its mux too): every
   * request waiting on it fails with `error` at once, and the next request subscribes again.
   */
  inboxDenied(error: NatsError): void {
    this.sub?.fail(error);
    this.sub = null;
    this.failShared(error);
  }

  /** Whether `sub` is one of the multiplexer's own subscriptions (drain() leaves them be). */
  owns(sub: Subscriber): boolean {
    return sub === this.sub || this.inboxes.has(sub) || this.gatherers.has(sub);
  }

  /** When the last timeout of a request waiting expires (performance.now() time; -Infinity: none). */
  latestDeadline(): number {
    let latest = this.deadlines.latest();
    for (const { until = Number.NEGATIVE_INFINITY } of this.gatherers.values()) {
      if (until > latest) latest = until;
    }
    return latest;
  }

  /** Resolves once no request waits for its replies any more (drain() waits for them). */
  settled(): Promise<void> {
    if (!this.waiting()) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.idle;
      this.idle = () => {
        before?.();
        resolve();
      };
    });
  }

  /**
   * requestMany: `sub` gathers replies to a request to `subject` ({@link denied} fails it)
   * until `until` at most (its maxWait; drain() waits for it, {@link latestDeadline}).
   */
  gathering(sub: Subscriber, subject: string, until: number): void {
    this.gatherers.set(sub, { subject, number: ++this.next, until });
    void sub.closed.then(() => {
      this.gatherers.delete(sub);
      this.changed();
    });
  }

  /** flush() `id` is on its way, behind every request made so far. */
  flushMade(id: number): void {
    const after = this.flushedAfter;
    if (after.length === MAX_FLUSHES_KEPT) after.shift();
    after.push({ flush: id, request: this.next });
  }

  /**
   * The server denied publishing to `subject`: requests to it fail with `error` at once, but
   * for those published before flush `flushesAcked`, whose PONG came before the -ERR: the
   * server had taken them before the publish it denied (a reload may deny a subject that an
   * earlier request was allowed to, and that request's reply is still coming).
   */
  denied(subject: string, error: NatsError, flushesAcked: number): void {
    const taken = this.requestsBefore(flushesAcked);
    for (const entry of this.pending.entries()) {
      if (entry.subject !== subject || entry.id <= taken) continue;
      this.pending.delete(entry);
      this.deadlines.remove(entry);
      entry.reject(error);
    }
    for (const requests of [this.inboxes, this.gatherers]) {
      for (const [sub, sent] of requests) {
        if (sent.subject === subject && sent.number > taken) sub.fail(error);
      }
    }
    this.changed();
  }

  /** The number of the last request made before flush `id`; 0 when it is not kept. */
  private requestsBefore(id: number): number {
    const after = this.flushedAfter;
    for (let i = after.length - 1; i >= 0; i--) if (after[i].flush === id) return after[i].request;
    return 0;
  }

  /** Fail every request still waiting (the client is closing). */
  close(error: NatsError): void {
    this.deadlines.clear();
    this.failShared(error);
  }

  /** Fail every request waiting on the shared inbox with `error`. */
  private failShared(error: NatsError): void {
    const entries = this.pending.entries();
    this.pending.clear();
    this.matched = undefined;
    for (const entry of entries) {
      this.deadlines.remove(entry); // a no-op after clear()
      entry.reject(error);
    }
    this.changed();
  }

  /** Some request (shared inbox, own inbox or requestMany) still waits for replies. */
  private waiting(): boolean {
    return this.pending.size > 0 || this.inboxes.size > 0 || this.gatherers.size > 0;
  }

  /** Requests waiting for replies, on the shared inbox or their own (CallBound counts them). */
  get waitingCalls(): number {
    return this.pending.size + this.inboxes.size + this.gatherers.size;
  }

  private changed(): void {
    if (this.idle === null || this.waiting()) return;
    const idle = this.idle;
    this.idle = null;
    idle();
  }

  /**
   * The subject of a reply on the shared inbox, whose bytes are `bytes[start, end)`: the reply
   * subject its request was sent with, found by the id its bytes end with (the server delivers
   * on this subscription only subjects that are the prefix and one token). Undefined when no
   * request waits for it (the dispatcher then decodes the bytes).
   */
  subjectAt(bytes: Uint8Array, start: number, end: number): string | undefined {
    // Only the shared inbox's subjects reach it, unless a server sends others: those are
    // decoded as they came (a subject of the same length and last token read as a reply's).
    const prefix = this.prefixUtf8;
    for (let i = 0; i < prefix.length; i++) {
      if (bytes[start + i] !== prefix[i]) {
        this.matched = undefined;
        return undefined;
      }
    }
    this.matched = this.pending.get(requestIdAt(bytes, start + this.prefixBytes, end));
    return this.matched?.reply;
  }

  private readonly route = (msg: Message): void => {
    let entry = this.matched;
    this.matched = undefined;
    if (entry?.reply !== msg.subject) {
      // Not dispatched through subjectAt (a message continued across frames): read its id.
      entry = undefined;
      if (msg.subject.startsWith(this.prefix)) {
        const bytes = Buffer.from(msg.subject);
        entry = this.pending.get(requestIdAt(bytes, this.prefixBytes, bytes.length));
      }
    }
    if (!entry) return; // late reply to a request that timed out, or not a request's id
    this.pending.delete(entry);
    this.deadlines.remove(entry);
    settle(entry, msg);
    this.changed();
  };
}
