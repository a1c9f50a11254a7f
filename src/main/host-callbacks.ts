/**
 * What the connection worker may call on the caller's thread, handed over once as a comlink
 * proxy: its updates (events, INFO, pool) and its end, which the client applies, and the
 * caller's own callbacks from the options, which run here: reconnect delay and server choice,
 * JWT nonce signing, the auth callback.
 */
import type { HostCallbacks, HostUpdate, WireServer } from '../shared/control.js';
import { describeError } from '../shared/describe.js';
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
    reconnectDelay: carried(
      async (attempts: number) => options.reconnectDelayCallback?.(attempts) ?? 0,
    ),
    reconnectToServer: carried(
      async (servers: WireServer[], info: ServerInfo) =>
        (await options.reconnectToServerCallback?.(servers.map(fromWireServer), info)) ?? null,
    ),
    signNonce: carried(async (nonce: Uint8Array) => {
      const signature = await options.signNonce?.(nonce);
      if (!(signature instanceof Uint8Array)) {
        throw new NatsError('callback', 'the jwt sign callback must return a Uint8Array');
      }
      return signature;
    }),
    authenticate: carried(async (nonce: Uint8Array) =>
      authFieldsOf(await options.authCallback?.(nonce)),
    ),
  };
}

/**
 * `call` with what it throws made fit for comlink, which carries an Error as its name and
 * message (and stack) and anything else by structured clone: a value it cannot carry (a symbol,
 * a function, an Error whose message or stack is a getter that throws) would reach the worker as comlink's own
 * "Unserializable return value". The worker names the callback and reports its failure.
 */
function carried<A extends unknown[], T>(
  call: (...args: A) => Promise<T>,
): (...args: A) => Promise<T> {
  return async (...args: A) => {
    try {
      return await call(...args);
    } catch (thrown) {
      throw canCarry(thrown) ? thrown : new Error(`it threw ${describeError(thrown)}`);
    }
  };
}

function canCarry(thrown: unknown): boolean {
  try {
    if (thrown instanceof Error) {
      const { name, message, stack } = thrown; // what comlink sends of an Error
      return (
        typeof name === 'string' &&
        typeof message === 'string' &&
        (stack === undefined || typeof stack === 'string')
      );
    }
    structuredClone(thrown);
    return true;
  } catch {
    return false;
  }
}
