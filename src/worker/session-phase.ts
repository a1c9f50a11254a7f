/**
 * The phases of one session (one connection attempt, then one connection) and the only edges
 * between them:
 *
 *   dialing ──► [tlsFirst] ──► awaitInfo ──► [tlsUpgrade] ──► authenticating ──► awaitPong ──► open
 *      │            │              │               │                 │               │         │  │
 *      └────────────┴──────────────┴───────────────┴──── ended ◄─────┴───────────────┴─────────┘  │
 *                                                          ▲                                       │
 *                                                          └──────────── closing ◄─────────────────┘
 *
 * `tlsFirst`: the TLS handshake before the server's INFO (`tlsFirst()`, a server with
 * `handshake_first`); `tlsUpgrade`: after it (the server, the URL or `requireTls` asks for
 * TLS). `authenticating` builds CONNECT (it may wait for the caller's sign or auth callback);
 * `awaitPong`: CONNECT and PING are written, the PONG says the server accepted them. Every phase
 * may end (failure, timeout); `closing`: ended on purpose (close, forceReconnect), half-closed
 * and still read until the server closes its side. `ended` is final.
 */

export type Phase =
  | 'dialing'
  | 'tlsFirst'
  | 'awaitInfo'
  | 'tlsUpgrade'
  | 'authenticating'
  | 'awaitPong'
  | 'open'
  | 'closing'
  | 'ended';

/** Where each phase may go next. */
export const PHASE_EDGES: Readonly<Record<Phase, readonly Phase[]>> = {
  dialing: ['tlsFirst', 'awaitInfo', 'ended'],
  tlsFirst: ['awaitInfo', 'ended'],
  awaitInfo: ['tlsUpgrade', 'authenticating', 'ended'],
  tlsUpgrade: ['authenticating', 'ended'],
  authenticating: ['awaitPong', 'ended'],
  awaitPong: ['open', 'ended'],
  open: ['closing', 'ended'],
  closing: ['ended'],
  ended: [],
};

/** The phase after `from` → `to`; an edge not in {@link PHASE_EDGES} is a bug and throws. */
export function nextPhase(from: Phase, to: Phase): Phase {
  if (!PHASE_EDGES[from].includes(to)) {
    throw new Error(`session: no transition from '${from}' to '${to}'`);
  }
  return to;
}
