/**
 * What the connection worker may call on the caller's thread, handed over once as a comlink
 * proxy: its updates (events, INFO, pool) and its end, which the client applies, and the
 * caller's own callbacks from the options, which run here: reconnect delay and server choice,
 * JWT nonce signing, the auth callback.
 */
import type { HostCallbacks, HostUpdate, WireServer } from '../shared/control.js';
import { fromWire, NatsError, type WireError } from '../shared/errors.js';
import type { ServerInfo } from '../shared/server-info.js';
import { authFieldsOf } from './auth.js';
import type { ResolvedOptions } from './resolved-options.js';
import { fromWireServer } from './servers.js';

/** Where the worker's own calls land: the client. */
export interface HostCallbackTarget {
  updated(update: HostUpdate): void;
  /** The worker's connection loop ended the client (maxReconnects, a fatal error). */
  ended(error: NatsError): void;
}

export function hostCallbacks(options: ResolvedOptions, client: HostCallbackTarget): HostCallbacks {
  return {
    update: (update: HostUpdate) => client.updated(update),
    ended: (error: WireError) => client.ended(fromWire(error)),
    reconnectDelay: (attempts: number) => options.reconnectDelayCallback?.(attempts) ?? 0,
    reconnectToServer: async (servers: WireServer[], info: ServerInfo) =>
      (await options.reconnectToServerCallback?.(servers.map(fromWireServer), info)) ?? null,
    signNonce: async (nonce: Uint8Array) => {
      const signature = await options.signNonce?.(nonce);
      if (!(signature instanceof Uint8Array)) {
        throw new NatsError('callback', 'the jwt sign callback must return a Uint8Array');
      }
      return signature;
    },
    authenticate: async (nonce: Uint8Array) => authFieldsOf(await options.authCallback?.(nonce)),
  };
}
