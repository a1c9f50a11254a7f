/**
 * The plain-object form of ConnectOptions (`connect(url, { name: 'svc', noEcho: true })`).
 */
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
  if (init === null || typeof init !== 'object') {
    throw new NatsError(
      'invalidOption',
      `options must be a ConnectOptions or a plain object, got ${String(init)}`,
    );
  }
  for (const [key, value] of Object.entries(init)) {
    const setter = SETTERS.has(key)
      ? (options as unknown as Record<string, unknown>)[key]
      : undefined;
    if (typeof setter !== 'function') {
      throw new NatsError('invalidOption', `unknown option ${JSON.stringify(key)}`);
    }
    if (value === undefined) continue;
    if (setter.length === 0) {
      if (typeof value !== 'boolean') {
        throw new NatsError(
          'invalidOption',
          `option ${key} takes true or false, got ${typeof value}`,
        );
      }
      if (value) setter.call(options);
    } else if (setter.length > 1) {
      if (!Array.isArray(value) || value.length !== setter.length) {
        throw new NatsError(
          'invalidOption',
          `option ${key} takes an array of ${setter.length} arguments`,
        );
      }
      await setter.apply(options, value);
    } else {
      await setter.call(options, value);
    }
  }
  return options;
}
