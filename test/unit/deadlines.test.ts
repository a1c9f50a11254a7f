// One timer for many deadlines (src/main/deadlines.ts): whatever is added and removed, in
// whatever order, the rest expire in deadline order and the removed ones never do.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Deadline, Deadlines } from '../../src/main/deadlines.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

/** A deadline that records its id in `expired` when it expires. */
function deadline(id: number, expired: number[]): Deadline & { id: number } {
  return { id, at: 0, slot: -1, expire: () => expired.push(id) };
}

/** Adds a deadline per entry of `delays`, removes those at `removed`, runs every timer. */
function run(delays: number[], removed: Set<number>): { expired: number[] } {
  const expired: number[] = [];
  const deadlines = new Deadlines((run) => run());
  const all = delays.map((_, id) => deadline(id, expired));
  for (const [id, d] of all.entries()) deadlines.add(d, delays[id]);
  for (const id of removed) deadlines.remove(all[id]);
  for (const id of removed) expect(all[id].slot).toBe(-1);
  vi.advanceTimersByTime(Math.max(0, ...delays) + 10);
  return { expired };
}

/** The ids not removed, by delay (ties in any order: compared by delay). */
function expectInDeadlineOrder(delays: number[], removed: Set<number>, expired: number[]): void {
  const kept = delays.map((_, id) => id).filter((id) => !removed.has(id));
  expect([...expired].sort((a, b) => a - b)).toEqual(kept);
  const expiredDelays = expired.map((id) => delays[id]);
  expect(expiredDelays).toEqual([...expiredDelays].sort((a, b) => a - b));
}

describe('Deadlines', () => {
  it('removing from the middle of the heap keeps the rest in order', () => {
    // Removing these moves a 0 from the end of the heap below a 1 that must not expire before
    // it: it has to go up, not only down (found by the property below with that step left out).
    const delays = [0, 1, 1, 1, 1, 0, 0, 0];
    const removed = new Set([0, 1]);
    const { expired } = run(delays, removed);
    expectInDeadlineOrder(delays, removed, expired);
  });

  it('any adds and removes: the rest expire in deadline order, the removed never', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (delays, picks) => {
          const removed = new Set(picks.map((pick) => pick % delays.length));
          const { expired } = run(delays, removed);
          expectInDeadlineOrder(delays, removed, expired);
        },
      ),
      { numRuns: 500 },
    );
  });
});
