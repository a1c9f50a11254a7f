/**
 * The worker's table of live subscriptions: the SUB and UNSUB lines the server is sent for
 * them (now and after every reconnect), and the one owner of the `unsubscribeAfter` limit.
 *
 * The limit is counted here because only the worker sees every message the server sends on a
 * sid, including those it has to drop (slowConsumer): the server counts those too. The end
 * reaches the main thread as a SUB_END delivery after the last message; the main thread keeps
 * only a cap against messages already on their way (see Subscriber.unsubscribeAfter).
 */

import type { Command } from '../shared/frames/command.js';
import { OwnSubject } from '../shared/frames/own-subject.js';
import { encodeSub, encodeUnsub, subLength } from '../shared/protocol/encode.js';
import { lastTokenRequestId } from '../shared/protocol/request-id.js';

export interface Subscription {
  sid: number;
  subject: string;
  queue: string | undefined;
  /** `subject` as delivery framing compares MSG subjects with it (equal: none in the frame). */
  ownSubject: OwnSubject;
  /** Has a `*` or `>` token: MSG subjects then differ from it, and no comparison is made. */
  wildcard: boolean;
  /** Auto-unsubscribe after this many messages in total (0 = no limit). */
  max: number;
  /** Messages the server sent on this sid, delivered or dropped. */
  received: number;
  /** Messages waiting for it, counted while the main thread is stalled (flow-control.ts). */
  waiting: number;
  /** `received` when the current connection's SUB went out: the server counts from there. */
  base: number;
  /** A slowConsumer event was sent in the current stall. */
  slow: boolean;
  /**
   * The shared request inbox: never dropped for `subscriptionCapacity` (its replies are as
   * many as the requests that wait for them), only past the byte bound (flow-control.ts).
   */
  replies: boolean;
  /** UNSUB was sent: still delivering what the server sent before it, never replayed. */
  closing: boolean;
}

export class SubscriptionTable {
  private readonly subs = new Map<number, Subscription>();

  /** `ended(sid)`: a subscription reached its unsubscribeAfter limit here. */
  constructor(private readonly ended: (sid: number) => void) {}

  get(sid: number): Subscription | undefined {
    return this.subs.get(sid);
  }

  all(): Iterable<Subscription> {
    return this.subs.values();
  }

  /**
   * The line that tells the server about a SUB or UNSUB command, before the table takes it
   * ({@link subscribe}, {@link unsubscribe}) once the line is in a write. An UNSUB whose limit
   * is not reached yet says how many more the server may send: it counts from this
   * connection's SUB on. One whose limit is reached (or of a subscription that ended here
   * already, its SUB_END on the way to the main thread) unsubscribes now.
   */
  line(cmd: Extract<Command, { kind: 'sub' | 'unsub' }>): Uint8Array {
    if (cmd.kind === 'sub') return encodeSub(cmd.subject, cmd.queue, cmd.sid);
    const sub = this.subs.get(cmd.sid);
    if (sub === undefined || cmd.max === 0 || sub.received >= cmd.max) return encodeUnsub(cmd.sid);
    return encodeUnsub(cmd.sid, cmd.max - sub.base);
  }

  /**
   * The subscription a request's replies would come on (rare path: a request left out unsent):
   * the shared inbox's, with the request's id, or one whose subject is `reply` (id -1).
   */
  replyTarget(reply: string): { sid: number; id: number } | undefined {
    let own: Subscription | undefined;
    for (const sub of this.subs.values()) {
      if (sub.replies) {
        const prefix = sub.subject.slice(0, -1); // `<prefix>.*`
        if (!reply.startsWith(prefix)) continue;
        const bytes = Buffer.from(reply);
        const id = lastTokenRequestId(bytes, 0, bytes.length);
        if (id >= 0) return { sid: sub.sid, id };
      } else if (
        sub.subject === reply &&
        !sub.closing &&
        (own === undefined || sub.sid > own.sid)
      ) {
        // The newest: a request's own inbox is subscribed just before it is published, and
        // later subscriptions are not in this table yet when it is left out.
        own = sub;
      }
    }
    return own === undefined ? undefined : { sid: own.sid, id: -1 };
  }

  /** A SUB went out: the subscription is live from now on. */
  subscribe(sid: number, subject: string, queue: string | undefined, replies = false): void {
    this.subs.set(sid, newSubscription(sid, subject, queue, replies));
  }

  /**
   * An UNSUB went out. With `max` 0 the subscription stays (closing) until {@link remove} at
   * the PONG fenced behind the UNSUB, so messages already on their way still reach a draining
   * subscriber. Otherwise it ends after `max` messages in total (at once when that many have
   * arrived already).
   */
  unsubscribe(sid: number, max: number): void {
    const sub = this.subs.get(sid);
    if (!sub) return;
    if (max === 0) sub.closing = true;
    else if (sub.received >= max) this.end(sub);
    else sub.max = max;
  }

  remove(sid: number): void {
    this.subs.delete(sid);
  }

  /** The subscription whose SUB line is the longest (ties: the first), if any is live. */
  longestLine(): Subscription | undefined {
    let longest: Subscription | undefined;
    let length = 0;
    for (const sub of this.subs.values()) {
      if (sub.closing) continue;
      const line = subLength(sub.subject, sub.queue, sub.sid);
      if (line > length) [longest, length] = [sub, line];
    }
    return longest;
  }

  /** Count one message (delivered or dropped: the server counts both); end at the limit. */
  received(sub: Subscription): void {
    sub.received++;
    if (sub.max !== 0 && sub.received >= sub.max) this.end(sub);
  }

  private end(sub: Subscription): void {
    this.subs.delete(sub.sid);
    this.ended(sub.sid);
  }

  /**
   * The protocol lines that restore every subscription on a new connection, with what is left
   * of each limit (closing ones are gone). The server counts from 0 again.
   */
  replay(): Uint8Array[] {
    const lines: Uint8Array[] = [];
    for (const sub of this.subs.values()) {
      if (sub.closing) {
        this.subs.delete(sub.sid);
        continue;
      }
      lines.push(encodeSub(sub.subject, sub.queue, sub.sid));
      sub.base = sub.received;
      if (sub.max !== 0) lines.push(encodeUnsub(sub.sid, sub.max - sub.received));
    }
    return lines;
  }
}

/** A subscription as the worker keeps it, before any message or limit. */
export function newSubscription(
  sid: number,
  subject: string,
  queue: string | undefined,
  replies = false,
): Subscription {
  return {
    sid,
    subject,
    queue,
    ownSubject: new OwnSubject(subject),
    wildcard: subject.split('.').some((token) => token === '*' || token === '>'),
    max: 0,
    received: 0,
    waiting: 0,
    base: 0,
    slow: false,
    replies,
    closing: false,
  };
}
