// What one session's messages count as when it fails or is abandoned (src/worker/unflushed.ts):
// those no PONG acknowledged — never fewer than the server may have missed.

import { describe, expect, it } from 'vitest';
import { PingPong } from '../../src/worker/ping-pong.js';
import { Unflushed } from '../../src/worker/unflushed.js';

/** A batch of `messages` written. */
function writeBatch(u: Unflushed, messages: number): void {
  u.published(messages);
  u.take();
}

describe('Unflushed', () => {
  it('counts every message written until a PONG acknowledges it, the batch being written too', () => {
    const u = new Unflushed();
    writeBatch(u, 5);
    u.published(3); // published, not yet taken: not written
    expect(u.unacknowledged).toBe(5);
    u.take();
    expect(u.unacknowledged).toBe(8);
  });

  it('a PONG acknowledges what was written before its PING, not after', () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    const before = u.pingWritten(false);
    writeBatch(u, 4);
    expect(u.unacknowledged).toBe(14);
    u.ponged(before);
    expect(u.unacknowledged).toBe(4);
  });

  it('a PING inside a batch acknowledges only the batches before it (messages may follow it)', () => {
    const u = new Unflushed();
    writeBatch(u, 10);
    writeBatch(u, 6); // e.g. PUB ×3, a flush's PING, PUB ×3
    u.ponged(u.pingWritten(true));
    expect(u.unacknowledged).toBe(6);
  });
});

describe('PingPong with Unflushed', () => {
  it('each PONG acknowledges what its own PING followed, in wire order', () => {
    const u = new Unflushed();
    const pings = new PingPong();
    const pong = () => u.ponged(pings.answered()?.before ?? 0);
    writeBatch(u, 1);
    pings.sent({ kind: 'heartbeat' }, u.pingWritten(false), u.messagesWritten);
    writeBatch(u, 2);
    pings.sent({ kind: 'flush', id: 7 }, u.pingWritten(false), u.messagesWritten);
    writeBatch(u, 4);
    pong();
    expect(u.unacknowledged).toBe(6);
    expect(pings.unansweredFlushes()).toEqual([{ id: 7, upTo: 3 }]);
    pong();
    expect(u.unacknowledged).toBe(4);
    pong(); // one we did not ask for acknowledges nothing more
    expect(u.unacknowledged).toBe(4);
  });
});
