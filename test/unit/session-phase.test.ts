// The phases of one session (src/worker/session-phase.ts): each edge of the table is allowed,
// every other pair is a bug that throws, and every phase may end.

import { describe, expect, it } from 'vitest';
import { nextPhase, PHASE_EDGES, type Phase } from '../../src/worker/session-phase.js';

const PHASES = Object.keys(PHASE_EDGES) as Phase[];
const PAIRS = PHASES.flatMap((from) => PHASES.map((to) => [from, to] as const));

describe('session phases', () => {
  it.each(PAIRS.filter(([from, to]) => PHASE_EDGES[from].includes(to)))(
    '%s → %s is an edge',
    (from, to) => {
      expect(nextPhase(from, to)).toBe(to);
    },
  );

  it.each(PAIRS.filter(([from, to]) => !PHASE_EDGES[from].includes(to)))(
    '%s → %s is a bug and throws',
    (from, to) => {
      expect(() => nextPhase(from, to)).toThrow(`no transition from '${from}' to '${to}'`);
    },
  );

  it('every phase but ended may end, and ended is final', () => {
    for (const phase of PHASES) {
      expect(PHASE_EDGES[phase].includes('ended')).toBe(phase !== 'ended');
    }
    expect(PHASE_EDGES.ended).toEqual([]);
  });

  it('a session goes forward only: TLS first, INFO, TLS upgrade, CONNECT, PONG, open, closing', () => {
    const order: Phase[] = [
      'dialing',
      'tlsFirst',
      'awaitInfo',
      'tlsUpgrade',
      'authenticating',
      'awaitPong',
      'open',
      'closing',
    ];
    for (const [i, from] of order.entries()) {
      for (const to of PHASE_EDGES[from]) {
        if (to !== 'ended') expect(order.indexOf(to)).toBeGreaterThan(i);
      }
    }
  });
});
