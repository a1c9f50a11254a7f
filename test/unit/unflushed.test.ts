// What one session's messages count as when it fails (src/worker/unflushed.ts): those no PONG
// acknowledged, however it ended — never fewer than the server may have missed.

import { describe, expect, it } from 'vitest';
import { PingPong } from '../../src/worker/ping-pong.js';
import { Unflushed } from '../../src/worker/unflushed.js';

/** A batch of `messages` written. */
function writeBatch(u: Unflushed, messages: number): void {
  u.published(messages);
  u.take();
}

describe('Unflushed', () => {
  it('a PONG acknowledges what was written before its PING, not after', () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    const before = u.pingWritten();
    writeBatch(u, 4);
    expect(u.lost()).toBe(14);
    u.ponged(before);
    expect(u.lost()).toBe(4);
  });

  it("a PING inside a batch acknowledges the batch's messages before it, not those after", () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    writeBatch(u, 6); // PUB ×3, a flush's PING, PUB ×3
    u.ponged(u.pingWritten(3));
    expect(u.lost()).toBe(3);
  });
});

describe('what a flush must prove', () => {
  it('on a failed socket: every message before its PING acknowledged', () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    u.ponged(u.pingWritten());
    writeBatch(u, 6); // PUB ×3, a flush's PING, PUB ×3: 13 before it
    const upTo = u.pingWritten(3);
    expect(upTo).toBe(13);
    expect(u.survives(upTo)).toBe(false);
    u.ponged(upTo); // its own PONG proves them
    expect(u.survives(upTo)).toBe(true);
    expect(u.lost()).toBe(3);
  });
});

describe('PingPong with Unflushed', () => {
  it('each PONG acknowledges what its own PING followed, in wire order', () => {
    const u = new Unflushed();
    const pings = new PingPong();
    const pong = () => u.ponged(pings.answered()?.before ?? 0);
    writeBatch(u, 1);
    pings.sent({ kind: 'heartbeat' }, u.pingWritten());
    writeBatch(u, 2);
    pings.sent({ kind: 'flush', id: 7 }, u.pingWritten());
    writeBatch(u, 4);
    pong();
    expect(u.lost()).toBe(6);
    expect(pings.unansweredFlushes()).toEqual([{ id: 7, upTo: 3 }]);
    pong();
    expect(u.lost()).toBe(4);
    pong(); // one we did not ask for acknowledges nothing more
    expect(u.lost()).toBe(4);
  });
});
