/**
 * The plain-object form of ConnectOptions (`connect(url, { name: 'svc', noEcho: true })`).
 */
import { describe, typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import type { ConnectOptions } from './options.js';

/** Setter names accepted by `ConnectOptions.from`. */
const SETTERS = new Set([
  'token',
  'userAndPassword',
  'nkey',
  'jwt',
  'credentialsFile',
  'credentials',
  'authCallback',
  'requireTls',
  'tlsFirst',
  'addRootCertificates',
  'addClientCertificate',
  'tlsClientConfig',
  'connectionTimeout',
  'requestTimeout',
  'pingInterval',
  'retryOnInitialConnect',
  'maxReconnects',
  'ignoreDiscoveredServers',
  'retainServersOrder',
  'skipSubjectValidation',
  'subscriptionCapacity',
  'clientCapacity',
  'maxPendingBytes',
  'customInboxPrefix',
  'readBufferCapacity',
  'localAddress',
  'noEcho',
  'name',
  'reconnectDelayCallback',
  'reconnectToServerCallback',
  'eventCallback',
]);

type Setter = Exclude<keyof ConnectOptions, 'connect' | 'resolve' | 'toJSON'>;
type Args<K extends Setter> = ConnectOptions[K] extends (...args: infer A) => unknown ? A : never;

/**
 * The plain-object form of the builder: each key is a setter's name; the value is its
 * argument, an array of arguments for two-argument setters (`userAndPassword: ['u', 'p']`),
 * or `true` for setters without one (`noEcho: true`).
 *
 * @example
 * await connect('nats://127.0.0.1:4222', { name: 'svc', token: 's3cret', noEcho: true });
 */
export type ConnectOptionsInit = {
  [K in Setter]?: Args<K> extends [] ? boolean : Args<K> extends [infer One] ? One : Args<K>;
};

/** Call the setter named by each key of `init` on `options`, in the object's key order. */
export async function applyInit(
  options: ConnectOptions,
  init: ConnectOptionsInit,
): Promise<ConnectOptions> {
  for (const [key, value] of entriesOf(init)) {
    const setter = SETTERS.has(key)
      ? (options as unknown as Record<string, unknown>)[key]
      : undefined;
    if (typeof setter !== 'function') {
      throw new NatsError('invalidOption', `unknown option ${describe(key)}`);
    }
    if (value === undefined) continue;
    if (setter.length === 0) {
      if (typeof value !== 'boolean') {
        throw new NatsError(
          'invalidOption',
          `option ${key} takes true or false, got ${typeName(value)}`,
        );
      }
      if (value) setter.call(options);
    } else if (setter.length > 1) {
      await setter.apply(options, argumentsOf(key, value, setter.length));
    } else {
      await setter.call(options, value);
    }
  }
  return options;
}

/** The arguments of a setter that takes `count`: an array of exactly that many, copied. */
function argumentsOf(key: string, value: unknown, count: number): unknown[] {
  let args: unknown[] | undefined;
  try {
    args = Array.isArray(value) ? Array.from(value) : undefined;
  } catch {
    // a Proxy that throws: not an array of arguments either
  }
  if (args === undefined || args.length !== count) {
    throw new NatsError('invalidOption', `option ${key} takes an array of ${count} arguments`);
  }
  return args;
}

/**
 * The own enumerable entries of `init`, read once. Reading runs the caller's getters (and a
 * Proxy's traps): what they throw is the caller's option being unusable, 'invalidOption'.
 */
function entriesOf(init: unknown): [string, unknown][] {
  if (init === null || typeof init !== 'object') {
    throw new NatsError(
      'invalidOption',
      `options must be a ConnectOptions or a plain object, got ${describe(init)}`,
    );
  }
  try {
    return Object.entries(init);
  } catch (cause) {
    throw new NatsError('invalidOption', 'the options object could not be read', { cause });
  }
}
