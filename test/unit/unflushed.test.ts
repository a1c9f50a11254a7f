// What one session's messages count as when it ends (src/worker/unflushed.ts): when the server
// closed the socket, those not yet in the kernel; when this client dropped or abandoned it,
// those no PONG acknowledged — never fewer than the server may have missed.

import { describe, expect, it } from 'vitest';
import { PingPong } from '../../src/worker/ping-pong.js';
import { Unflushed } from '../../src/worker/unflushed.js';

/** A batch of `messages` written and handed to the kernel. */
function writeBatch(u: Unflushed, messages: number): void {
  u.published(messages);
  u.flushed(u.take(), undefined);
}

describe('Unflushed', () => {
  it('counts messages not yet in the kernel, kept when their write failed', () => {
    const u = new Unflushed();
    u.published(5);
    const first = u.take();
    u.published(3);
    const second = u.take();
    expect(u.lost(false)).toBe(8);
    u.flushed(first, undefined);
    u.flushed(second, new Error('socket destroyed'));
    expect(u.lost(false)).toBe(3);
  });

  it('a PONG acknowledges what was written before its PING, not after', () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    const before = u.pingWritten();
    writeBatch(u, 4);
    expect(u.lost(true)).toBe(14);
    u.ponged(before);
    expect(u.lost(true)).toBe(4);
  });

  it("a PING inside a batch acknowledges the batch's messages before it, not those after", () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    writeBatch(u, 6); // PUB ×3, a flush's PING, PUB ×3
    u.ponged(u.pingWritten(3));
    expect(u.lost(true)).toBe(3);
  });
});

describe('what a flush must prove', () => {
  it('on a dropped socket: every message before its PING acknowledged', () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    u.ponged(u.pingWritten());
    writeBatch(u, 6); // PUB ×3, a flush's PING, PUB ×3: 13 before it
    const upTo = u.pingWritten(3);
    expect(upTo).toBe(13);
    expect(u.survives(upTo, true)).toBe(false);
    u.ponged(upTo); // its own PONG proves them
    expect(u.survives(upTo, true)).toBe(true);
    expect(u.lost(true)).toBe(3);
  });

  it('on a socket the server closed: every message up to its PING in the kernel', () => {
    const u = new Unflushed();
    writeBatch(u, 10); // in the kernel
    u.published(5);
    const pending = u.take(); // handed to the transport, not yet to the kernel
    const upTo = u.pingWritten();
    expect(u.survives(10, false)).toBe(true);
    expect(u.survives(upTo, false)).toBe(false);
    u.flushed(pending, undefined);
    expect(u.survives(upTo, false)).toBe(true);
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
    expect(u.lost(true)).toBe(6);
    expect(pings.unansweredFlushes()).toEqual([{ id: 7, upTo: 3 }]);
    pong();
    expect(u.lost(true)).toBe(4);
    pong(); // one we did not ask for acknowledges nothing more
    expect(u.lost(true)).toBe(4);
  });
});
