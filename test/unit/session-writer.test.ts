// What one session writes of its own (src/worker/session-writer.ts): here, the PING that follows
// messages after a pause, so that a failure then counts none of them as 'notSent'.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PING } from '../../src/shared/protocol/encode.js';
import { PING_AFTER_QUIET_MS } from '../../src/worker/flow-control.js';
import { SessionWriter } from '../../src/worker/session-writer.js';
import type { Transport } from '../../src/worker/transport.js';

/** A writer over a transport that records what it is given; `full`: writes return false. */
function writer(state = { full: false, open: true }, quietPings = true) {
  const written: string[] = [];
  const transport = {
    write: (bytes: Uint8Array) => {
      written.push(Buffer.from(bytes).toString());
      return !state.full;
    },
    writeAll: (chunks: Uint8Array[]) => {
      written.push(Buffer.concat(chunks).toString());
      return !state.full;
    },
    peerClosing: false,
  } as unknown as Transport;
  const w = new SessionWriter(
    () => (state.open ? transport : null),
    () => {},
    quietPings,
  );
  /** The pump writes a batch of `messages` PUBs. */
  const batch = (messages: number) => {
    w.published(messages);
    w.write(new TextEncoder().encode('PUB x 0\r\n\r\n'.repeat(messages)));
    w.batchDone();
  };
  const pings = () => written.filter((line) => line === Buffer.from(PING).toString()).length;
  return { w, batch, pings, state };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SessionWriter: a PING after a pause', () => {
  it('follows the last messages, and its PONG leaves none of them to count as not sent', () => {
    const { w, batch, pings } = writer();
    batch(50);
    expect(pings()).toBe(0); // not one per batch
    expect(w.unflushed.lost()).toBe(50);
    vi.advanceTimersByTime(PING_AFTER_QUIET_MS);
    expect(pings()).toBe(1);
    expect(w.ponged()).toEqual({ kind: 'window', sent: 0 });
    expect(w.unflushed.lost()).toBe(0);
    vi.advanceTimersByTime(10 * PING_AFTER_QUIET_MS);
    expect(pings()).toBe(1); // nothing new written: no more PINGs
  });

  it('goes at most once per interval while batches come, each after the last was answered', () => {
    const { w, batch, pings } = writer();
    for (let i = 0; i < 100; i++) {
      batch(10);
      vi.advanceTimersByTime(PING_AFTER_QUIET_MS / 4);
      if (pings() > 0) w.ponged(); // the server answers at once
    }
    expect(pings()).toBeGreaterThanOrEqual(20);
    expect(pings()).toBeLessThanOrEqual(25);
  });

  it('one at a time: the next waits for the PONG, then goes for what was written meanwhile', () => {
    const { w, batch, pings } = writer();
    batch(5);
    vi.advanceTimersByTime(PING_AFTER_QUIET_MS);
    batch(5);
    vi.advanceTimersByTime(100 * PING_AFTER_QUIET_MS); // a server that does not answer
    expect(pings()).toBe(1);
    expect(w.unflushed.lost()).toBe(10);
    w.ponged();
    expect(w.unflushed.lost()).toBe(5);
    vi.advanceTimersByTime(PING_AFTER_QUIET_MS);
    expect(pings()).toBe(2);
    w.ponged();
    expect(w.unflushed.lost()).toBe(0);
  });

  it('is not written with pingInterval(0): no PINGs of its own', () => {
    const { batch, pings } = writer({ full: false, open: true }, false);
    batch(5);
    vi.advanceTimersByTime(10 * PING_AFTER_QUIET_MS);
    expect(pings()).toBe(0);
  });

  it('is not needed when a PING already followed the messages', () => {
    const { w, batch, pings } = writer();
    batch(5);
    w.ping({ kind: 'flush', id: 1 });
    vi.advanceTimersByTime(PING_AFTER_QUIET_MS);
    expect(pings()).toBe(1); // the flush's own
  });

  it('waits while the socket is full, without a timer, and goes once it takes writes again', () => {
    const state = { full: true, open: true };
    const { w, batch, pings } = writer(state);
    batch(5);
    vi.advanceTimersByTime(3 * PING_AFTER_QUIET_MS);
    expect(pings()).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // a stuck socket is not polled
    state.full = false;
    w.drained();
    vi.advanceTimersByTime(PING_AFTER_QUIET_MS);
    expect(pings()).toBe(1);
  });

  it('is not written once the session has ended', () => {
    const { w, batch, pings } = writer();
    batch(5);
    w.stop();
    vi.advanceTimersByTime(PING_AFTER_QUIET_MS);
    expect(pings()).toBe(0);
    const closed = writer({ full: false, open: true });
    closed.batch(5);
    closed.state.open = false;
    vi.advanceTimersByTime(PING_AFTER_QUIET_MS);
    expect(closed.pings()).toBe(0);
  });
});
