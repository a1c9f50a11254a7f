/**
 * The connection loop's states and the only edges between them, as data. Each edge says which
 * state word it writes to the shared block (what `connectionState()` reads on the caller's
 * thread, layout.ts ST_STATE) and what it announces there; connection.ts applies both in one
 * place (`Connection.to`), so the order "state word, then event" holds for every edge.
 *
 *           start                open: CONNECTED, 'connected'
 *   idle ──────────► connecting ─────────────────────────────► connected
 *                     ▲      │                                     │
 *               retry │      │ failed       lost: DISCONNECTED,    │
 *                     │      ▼                    'disconnected'   │
 *                     └── backoff ◄────────────────────────────────┘
 *                            │ giveUp: CLOSED, 'ended' (to connect()'s caller, else the host)
 *                            ▼
 *                          closed
 *
 *   idle | connecting | backoff | connected ──close──► closing ──finish: CLOSED──► closed
 *
 * `open` writes CONNECTED and announces 'connected' with the INFO and the pool it connected
 * with. `connecting` and `backoff` read as 'pending' until the first connection and as
 * 'disconnected' after it: no edge between them writes a word. `backoff` is the wait between
 * attempts (asking the caller's reconnect callbacks, the delay); it may last no time at all.
 */
import { STATE_CLOSED, STATE_CONNECTED, STATE_DISCONNECTED } from '../shared/layout.js';
import type { PoolEntry } from './server-pool.js';
import type { Session } from './session.js';

/** The state with what it owns. */
export type LoopState =
  | { name: 'idle' }
  /** A session dialing and handshaking. */
  | { name: 'connecting'; session: Session; entry: PoolEntry }
  /** Between attempts; aborting `wake` cuts the delay short. */
  | { name: 'backoff'; wake: AbortController }
  | { name: 'connected'; session: Session; entry: PoolEntry }
  /** close(): the command ring is sent and the socket ended; `done` when that is over. */
  | { name: 'closing'; done: Promise<void> }
  | { name: 'closed' };

export type StateName = LoopState['name'];

export interface EdgeEffect {
  /** The state word (STATE_*) this edge stores, if it changes what the caller reads. */
  word?: number;
  /** What the caller's thread hears of it. */
  announce?: 'connected' | 'disconnected' | 'ended';
}

/** Every legal edge, `from→to`, with its effects; no other pair is a transition. */
export const EDGES: Readonly<Record<string, EdgeEffect>> = {
  'idle→connecting': {}, // start
  'connecting→connected': { word: STATE_CONNECTED, announce: 'connected' }, // open
  'connecting→backoff': {}, // failed
  'backoff→connecting': {}, // retry
  'connected→backoff': { word: STATE_DISCONNECTED, announce: 'disconnected' }, // lost
  'backoff→closed': { word: STATE_CLOSED, announce: 'ended' }, // giveUp
  'idle→closing': {}, // close
  'connecting→closing': {},
  'backoff→closing': {},
  'connected→closing': {},
  'closing→closed': { word: STATE_CLOSED }, // finish
};

/** The effects of `from` → `to`; a pair that is not an edge is a bug and throws. */
export function edge(from: StateName, to: StateName): EdgeEffect {
  const effect = EDGES[`${from}→${to}`];
  if (effect === undefined) throw new Error(`connection: no transition from '${from}' to '${to}'`);
  return effect;
}
