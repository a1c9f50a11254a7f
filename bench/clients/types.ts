/**
 * The one interface every scenario is written against, so a scenario measures nats-offload,
 * nats.js and the raw-socket ceiling with the same code. Adapters stay thin: anything they add
 * is paid by all.
 */

export type ClientName = 'nats-offload' | 'nats.js' | 'raw';

/** nats-offload first (the ratios are its own), then what it is compared with. */
export const CLIENTS: readonly ClientName[] = ['nats-offload', 'nats.js', 'raw'];

export interface BenchClient {
  readonly name: ClientName;
  /**
   * Publish; false means "wait for {@link writable} before publishing more" (nats-offload's
   * cooperative publisher). nats.js has no such signal and always returns true.
   */
  publish(subject: string, payload: Uint8Array): boolean;
  writable(): Promise<void>;
  /**
   * Subscribe with a callback that sees each message's size in bytes. With `json`, each
   * message is first parsed with the library's own `json()` (a throw fails the sample). No
   * scenario reads payload bytes otherwise: nats-offload's `Message.payload` is a copy of its
   * own (API.md: the payload belongs to the message), which `length` and `json()` do without.
   */
  subscribe(subject: string, onMessage: (size: number) => void, json?: boolean): void;
  /** Request through the client's shared reply inbox; resolves with the reply payload. */
  request(subject: string, payload: Uint8Array): Promise<Uint8Array>;
  /** Resolves once everything published before it has reached the server. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * Rejects when the sample cannot be trusted: messages dropped (slow consumer), or the
   * connection lost. Never resolves. Scenarios race their work against it.
   */
  readonly failed: Promise<never>;
}

/** Request timeout for both clients: a lost reply fails the sample instead of hanging it. */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Connects the named client; loaded on demand so a measurement process loads one library only.
 * With `ca` (a PEM file), over TLS only, trusting that CA.
 */
export async function connectClient(
  name: ClientName,
  url: string,
  ca?: string,
): Promise<BenchClient> {
  if (name === 'nats-offload') return (await import('./offload.js')).connectOffload(url, ca);
  if (name === 'raw') return (await import('./raw.js')).connectRaw(url, ca);
  return (await import('./natsjs.js')).connectNatsJs(url, ca);
}

/** What `failed` rejects with when the client dropped messages (a slow consumer). */
export class DroppedMessagesError extends Error {}

/** A promise that only ever rejects, with a `reject` to call; never an unhandled rejection. */
export function failure(): { promise: Promise<never>; reject(error: Error): void } {
  let reject!: (error: Error) => void;
  const promise = new Promise<never>((_, r) => {
    reject = r;
  });
  promise.catch(() => {}); // observed by whoever races it; a sample that never races is fine
  return { promise, reject };
}
