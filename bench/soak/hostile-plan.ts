/**
 * What the hostile-server scenario asks of its peer process (hostile-peer.ts) and what the
 * peer reports back: in a module of their own, since importing the peer would run it.
 */

export interface HostilePlan {
  infos: number;
  urls: number;
  errMs: number;
  pings: number;
}

export interface HostileReport {
  infos: number;
  urls: number;
  errs: number;
  pings: number;
  endlessLines: number;
  bytes: number;
  /** Epoch ms at which each phase began (comparable with this machine's other processes). */
  phases: { name: string; at: number }[];
}

/** Nothing sent yet. */
export function emptyReport(): HostileReport {
  return { infos: 0, urls: 0, errs: 0, pings: 0, endlessLines: 0, bytes: 0, phases: [] };
}
