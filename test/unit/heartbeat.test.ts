// Keep-alive (src/worker/heartbeat.ts) on a faked interval timer: stale at the tick that finds
// two PINGs unanswered, any PONG answering them all, and nothing counted while reading is paused.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, MAX_OUTSTANDING_PINGS } from '../../src/worker/heartbeat.js';

let pings = 0;
let stale = 0;
let heartbeat: Heartbeat;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  pings = 0;
  stale = 0;
  heartbeat = new Heartbeat(1_000, {
    ping: () => pings++,
    stale: () => stale++,
  });
});

afterEach(() => {
  heartbeat.stop();
  vi.useRealTimers();
});

describe('heartbeat', () => {
  it('pings every interval and is stale at the tick that finds two unanswered', () => {
    heartbeat.start();
    vi.advanceTimersByTime(999);
    expect(pings).toBe(0);
    vi.advanceTimersByTime(1);
    expect(pings).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect([pings, stale]).toEqual([MAX_OUTSTANDING_PINGS, 0]);
    vi.advanceTimersByTime(1_000);
    expect([pings, stale]).toEqual([2, 1]);
    vi.advanceTimersByTime(10_000);
    expect([pings, stale]).toEqual([2, 1]); // stopped once stale
  });

  it('a PONG answers every outstanding PING', () => {
    heartbeat.start();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(2_000);
      heartbeat.answered();
    }
    expect([pings, stale]).toEqual([20, 0]);
  });

  it('counts nothing while paused, and counts afresh a full interval after the resume', () => {
    heartbeat.start();
    vi.advanceTimersByTime(2_000); // two unanswered: the next tick would be stale
    heartbeat.pause();
    vi.advanceTimersByTime(60_000);
    expect([pings, stale]).toEqual([2, 0]);

    heartbeat.resume();
    vi.advanceTimersByTime(999);
    expect(pings).toBe(2);
    vi.advanceTimersByTime(1_001);
    expect([pings, stale]).toEqual([4, 0]);
    vi.advanceTimersByTime(1_000);
    expect([pings, stale]).toEqual([4, 1]);
  });

  it('paused before it starts (during the handshake), it starts on the resume', () => {
    heartbeat.pause();
    heartbeat.start();
    vi.advanceTimersByTime(5_000);
    expect(pings).toBe(0);
    heartbeat.resume();
    vi.advanceTimersByTime(1_000);
    expect(pings).toBe(1);
  });

  it('an interval of 0 (pingInterval(0)) sends no PINGs and never finds the server stale', () => {
    const off = new Heartbeat(0, { ping: () => pings++, stale: () => stale++ });
    off.start();
    off.pause();
    off.resume();
    vi.advanceTimersByTime(10 * 60_000);
    off.stop();
    expect([pings, stale]).toEqual([0, 0]);
  });

  it('a resume without a pause changes nothing', () => {
    heartbeat.start();
    vi.advanceTimersByTime(2_000);
    heartbeat.resume();
    vi.advanceTimersByTime(1_000);
    expect(stale).toBe(1);
  });
});
