import type { WireServer } from '../shared/control.js';
import { fromWire, type NatsError } from '../shared/errors.js';

/** One server of the pool, as `client.serverPool()` shows it. */
export interface Server {
  url: string;
  failedAttempts: number;
  didConnect: boolean;
  isDiscovered: boolean;
  lastError?: NatsError;
}

export type { ReconnectToServer } from '../shared/control.js';

export function fromWireServer(server: WireServer): Server {
  const { lastError, ...rest } = server;
  return lastError ? { ...rest, lastError: fromWire(lastError) } : rest;
}
