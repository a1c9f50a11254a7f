// The PINGs awaiting their PONG (src/worker/ping-pong.ts): the n-th PONG answers the n-th PING,
// however many wait and however answers and new PINGs interleave, and the bound stops the
// pump until answers bring the queue below it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_UNANSWERED_PINGS, PingPong } from '../../src/worker/ping-pong.js';

describe('PingPong', () => {
  it('answers PINGs in the order they were sent, through any interleaving', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -3000, max: 3000 }), { maxLength: 20 }), (steps) => {
        const pings = new PingPong();
        const model: number[] = [];
        let next = 0;
        for (const step of steps) {
          // A positive step sends that many PINGs (every third a flush); a negative one answers.
          for (let i = 0; i < step; i++) {
            const n = next++;
            pings.sent(n % 3 === 0 ? { kind: 'flush', id: n } : { kind: 'heartbeat' }, n);
            model.push(n);
          }
          for (let i = 0; i < -step; i++) expect(pings.answered()?.before).toBe(model.shift());
          expect(pings.unansweredFlushes()).toEqual(
            model.filter((n) => n % 3 === 0).map((n) => ({ id: n, upTo: n })),
          );
        }
      }),
      { numRuns: 50 },
    );
  });

  it('stops the pump at MAX_UNANSWERED_PINGS and reopens it once answers bring it below', () => {
    const pings = new PingPong();
    for (let i = 0; i < MAX_UNANSWERED_PINGS - 1; i++) pings.sent({ kind: 'heartbeat' }, i);
    expect(pings.hasRoom()).toBe(true);
    pings.sent({ kind: 'heartbeat' }, MAX_UNANSWERED_PINGS);
    expect(pings.hasRoom()).toBe(false);
    expect(pings.reopened()).toBe(false);
    for (let i = 0; i < 2000; i++) pings.answered(); // past the queue's compaction
    expect(pings.reopened()).toBe(true);
    expect(pings.reopened()).toBe(false); // once
    expect(pings.hasRoom()).toBe(true);
    expect(pings.answered()?.before).toBe(2000);
  });
});
