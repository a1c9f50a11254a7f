// The connection loop's state table (src/worker/connection-state.ts): what each edge writes to
// the state word the caller's thread reads, and what it announces; every other pair is a bug.
// The loop walks these edges over the in-memory transport in connection-loop.test.ts.

import { describe, expect, it } from 'vitest';
import { STATE_CLOSED, STATE_CONNECTED, STATE_DISCONNECTED } from '../../src/shared/layout.js';
import { EDGES, edge, type StateName } from '../../src/worker/connection-state.js';

const STATES: StateName[] = ['idle', 'connecting', 'backoff', 'connected', 'closing', 'closed'];

describe('connection states', () => {
  it.each<[string, StateName, StateName, number | undefined, string | undefined]>([
    ['start', 'idle', 'connecting', undefined, undefined],
    ['open', 'connecting', 'connected', STATE_CONNECTED, 'connected'],
    ['failed', 'connecting', 'backoff', undefined, undefined],
    ['retry', 'backoff', 'connecting', undefined, undefined],
    ['lost', 'connected', 'backoff', STATE_DISCONNECTED, 'disconnected'],
    ['giveUp', 'backoff', 'closed', STATE_CLOSED, 'ended'],
    ['close before start', 'idle', 'closing', undefined, undefined],
    ['close while connecting', 'connecting', 'closing', undefined, undefined],
    ['close during backoff', 'backoff', 'closing', undefined, undefined],
    ['close while connected', 'connected', 'closing', undefined, undefined],
    ['finish', 'closing', 'closed', STATE_CLOSED, undefined],
  ])('%s: %s → %s writes %s and announces %s', (_, from, to, word, announce) => {
    expect(edge(from, to)).toEqual({
      ...(word === undefined ? {} : { word }),
      ...(announce === undefined ? {} : { announce }),
    });
  });

  it('has those edges and no others', () => {
    expect(Object.keys(EDGES)).toHaveLength(11);
  });

  const illegal = STATES.flatMap((from) =>
    STATES.map((to) => [from, to] as const).filter(([f, t]) => EDGES[`${f}→${t}`] === undefined),
  );

  it.each(illegal)('%s → %s is a bug and throws', (from, to) => {
    expect(() => edge(from, to)).toThrow(`no transition from '${from}' to '${to}'`);
  });

  it('closed is final, and closing only finishes', () => {
    for (const to of STATES) expect(() => edge('closed', to)).toThrow();
    expect(STATES.filter((to) => EDGES[`closing→${to}`] !== undefined)).toEqual(['closed']);
  });
});
