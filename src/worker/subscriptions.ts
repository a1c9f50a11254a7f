/**
 * The worker's table of live subscriptions: what to replay after a reconnect, and how many
 * messages each `unsubscribeAfter(n)` still allows, so the limit stays exact across reconnects.
 */
import { encodeUnsub } from '../shared/protocol/encode.js';

export interface Subscription {
  sid: number;
  /** The `SUB subj [queue] sid\r\n` line, copied out of the ring, replayed on reconnect. */
  wire: Uint8Array;
  /** Contains `*` or `>`: MSG subjects differ from the subscription's and must be sent along. */
  wildcard: boolean;
  /** Auto-unsubscribe after this many messages (0 = no limit). */
  max: number;
  received: number;
  /** Messages waiting for it, counted while the main thread is stalled (flow-control.ts). */
  waiting: number;
  /** A slowConsumer event was sent in the current stall. */
  slow: boolean;
  /** UNSUB was sent: still delivering what the server sent before it, never replayed. */
  closing: boolean;
}

const SPACE = 0x20;
const STAR = 0x2a;
const GT = 0x3e;

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

  /** `wire` is a view into the command ring; it is copied. */
  add(sid: number, wire: Uint8Array): void {
    this.subs.set(sid, newSubscription(sid, wire.slice()));
  }

  /**
   * UNSUB. With `max` 0 the subscription stays (closing) until {@link remove} at the PONG
   * fenced behind the UNSUB, so messages already on their way still reach a draining
   * subscriber. Otherwise it ends after `max` messages in total.
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

  /** Count one message (delivered or dropped: the server counts both); end at the limit. */
  delivered(sub: Subscription): void {
    sub.received++;
    if (sub.max !== 0 && sub.received >= sub.max) this.end(sub);
  }

  private end(sub: Subscription): void {
    this.subs.delete(sub.sid);
    this.ended(sub.sid);
  }

  /** The protocol lines that restore every subscription on a new connection (closing ones are gone). */
  replay(): Uint8Array[] {
    const lines: Uint8Array[] = [];
    for (const sub of this.subs.values()) {
      if (sub.closing) {
        this.subs.delete(sub.sid);
        continue;
      }
      lines.push(sub.wire);
      if (sub.max !== 0) lines.push(encodeUnsub(sub.sid, sub.max - sub.received));
    }
    return lines;
  }
}

/** A subscription as the worker keeps it, for the `SUB` line `wire` (kept, not copied). */
export function newSubscription(sid: number, wire: Uint8Array): Subscription {
  return {
    sid,
    wire,
    wildcard: subjectHasWildcard(wire),
    max: 0,
    received: 0,
    waiting: 0,
    slow: false,
    closing: false,
  };
}

/** Whether a `SUB subject …` line's subject has a `*` or `>` token. */
function subjectHasWildcard(wire: Uint8Array): boolean {
  // Subject runs from after "SUB " to the next space.
  for (let i = 4; i < wire.length && wire[i] !== SPACE; i++) {
    const c = wire[i];
    if ((c === STAR || c === GT) && (i === 4 || wire[i - 1] === 0x2e)) {
      const next = wire[i + 1];
      if (next === SPACE || next === 0x2e) return true;
    }
  }
  return false;
}
