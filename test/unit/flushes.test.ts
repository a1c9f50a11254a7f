// When a flush's acknowledgement resolves it (src/main/flushes.ts): at once, unless it comes
// from a connection whose 'connected' event this thread has not heard yet; then with that event.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Flushes } from '../../src/main/flushes.js';

function flushes(connects: { n: number }) {
  return new Flushes(
    () => {},
    100,
    50,
    () => false,
    () => connects.n,
    () => 0,
    (run) => run(),
  );
}

async function state(p: Promise<void>): Promise<string> {
  const settled = await Promise.race([
    p.then(
      () => 'resolved',
      (e: { kind: string }) => e.kind,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('pending'), 20)),
  ]);
  return settled;
}

describe('Flushes', () => {
  it('an acknowledgement heard after the disconnect of a connection it heard of resolves at once', async () => {
    const connects = { n: 1 };
    const f = flushes(connects);
    f.connected(connects.n);
    const flush = f.flush();
    f.disconnected(); // the event overtook the acknowledgement
    f.acked(1);
    expect(await state(flush)).toBe('resolved');
  });

  it("one from a connection whose 'connected' event is still on its way waits for it", async () => {
    const connects = { n: 1 };
    const f = flushes(connects);
    f.connected(connects.n);
    f.disconnected();
    const flush = f.flush();
    connects.n = 2; // the worker counted the next connection before its event and the ack
    f.acked(1);
    expect(await state(flush)).toBe('pending');
    f.connected(connects.n);
    expect(await state(flush)).toBe('resolved');
  });

  it('waits for that event no longer than connectionTimeout', async () => {
    const connects = { n: 1 };
    const f = flushes(connects); // connectionTimeout 50 ms
    f.connected(connects.n);
    const flush = f.flush();
    connects.n = 2; // an event that never comes
    f.acked(1);
    expect(await state(flush)).toBe('pending');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await state(flush)).toBe('resolved');
  });
});

describe('Flushes after a connection lost messages', () => {
  it('fails the pending flushes after the last one it took, ids wrapping past 2^32', async () => {
    const f = new Flushes(
      () => {},
      null,
      1000,
      () => true,
      () => 1,
      () => 0,
      (run) => run(),
    );
    f.connected(1);
    (f as unknown as { nextFlushId: number }).nextFlushId = 2 ** 32 - 3; // next ids: 2^32-2, 2^32-1, 0, 1
    const pending = [f.flush(), f.flush(), f.flush(), f.flush()];
    f.lostAfter(2 ** 32 - 1); // the connection took the first two
    // Each fails at its PONG, not before: until then it still fences what came before it.
    expect(await Promise.all(pending.map(state))).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
    for (const id of [2 ** 32 - 2, 2 ** 32 - 1, 0, 1]) f.acked(id);
    expect(await Promise.all(pending.map(state))).toEqual(['resolved', 'resolved', 'io', 'io']);
    const later = f.flush(); // made after the loss was heard of
    f.acked(2);
    expect(await state(later)).toBe('resolved');
  });

  it('fails one still waiting for its PONG at close as not sent, not as closed', async () => {
    const f = flushes({ n: 1 });
    f.connected(1);
    const flush = f.flush();
    f.lostAfter(0);
    f.close(undefined);
    expect(await state(flush)).toBe('io');
  });
});

describe('Flushes with requestTimeout(null)', () => {
  const CT = 100; // connectionTimeout: the bound is 200 ms
  let up = false;
  let pongs = 0;
  const unbounded = () =>
    new Flushes(
      () => {},
      null,
      CT,
      () => up,
      () => 1,
      () => pongs,
      (run) => run(),
    );
  /** A connected client's flush, pending when the client loses its connection. */
  const pendingThenLost = () => {
    const f = unbounded();
    f.connected(1);
    const flush = f.flush();
    f.disconnected();
    return { f, flush };
  };
  /** The flush's outcome so far, with fake time stood still. */
  const now = async (p: Promise<void>): Promise<string> => {
    let outcome = 'pending';
    p.then(
      () => {
        outcome = 'resolved';
      },
      (e: { kind: string }) => {
        outcome = e.kind;
      },
    );
    await vi.advanceTimersByTimeAsync(0);
    return outcome;
  };

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    up = false;
    pongs = 0;
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('fail 2 × connectionTimeout after the disconnection they saw, though the client reconnected meanwhile', async () => {
    const { f, flush } = pendingThenLost();
    await vi.advanceTimersByTimeAsync(60);
    f.connected(1); // a connection that answers nothing, then is lost again: the clock goes on
    f.disconnected();
    await vi.advanceTimersByTimeAsync(139);
    expect(await now(flush)).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(await now(flush)).toBe('timedOut');
  });

  it('have no bound while the client stays connected', async () => {
    const f = unbounded();
    f.connected(1);
    const flush = f.flush();
    await vi.advanceTimersByTimeAsync(10 * CT);
    expect(await now(flush)).toBe('pending');
    f.acked(1);
    expect(await now(flush)).toBe('resolved');
  });

  it('one made while disconnected is bound from the disconnection', async () => {
    const f = unbounded();
    f.connected(1);
    f.disconnected();
    await vi.advanceTimersByTimeAsync(120);
    const flush = f.flush();
    await vi.advanceTimersByTimeAsync(79);
    expect(await now(flush)).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(await now(flush)).toBe('timedOut');
  });

  it('get connectionTimeout more, once, when a connection is up at the deadline', async () => {
    const { flush } = pendingThenLost();
    await vi.advanceTimersByTimeAsync(150);
    up = true; // the worker reconnected; its PONG may be on its way
    await vi.advanceTimersByTimeAsync(149); // past the first deadline (200 ms)
    expect(await now(flush)).toBe('pending');
    await vi.advanceTimersByTimeAsync(1); // the second (300 ms)
    expect(await now(flush)).toBe('timedOut');
  });

  it('wait on while a connection answers PINGs (a slow upload ahead of it), and fail once none does', async () => {
    const { flush } = pendingThenLost();
    up = true;
    for (let i = 0; i < 10; i++) {
      pongs++; // the server answers the PINGs written every MiB of the upload
      await vi.advanceTimersByTimeAsync(2 * CT);
    }
    expect(await now(flush)).toBe('pending');
    await vi.advanceTimersByTimeAsync(2 * CT + CT); // no PONG since: the grace, then timedOut
    expect(await now(flush)).toBe('timedOut');
  });
});
