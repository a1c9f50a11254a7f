/**
 * One byte stream to a server, whatever carries it. TCP today; TLS and WebSocket plug in
 * behind the same interface (an upgrade() step and a ws adapter) without touching the session.
 */
import net from 'node:net';
import { NatsError } from '../shared/errors.js';
import type { ServerAddress } from '../shared/servers.js';

export interface TransportHandlers {
  data(chunk: Buffer): void;
  drain(): void;
  /** The stream is gone; `error` when it failed rather than ended. Called once. */
  closed(error?: NatsError): void;
}

export interface Transport {
  /** Queue bytes; false when the kernel buffer is full (wait for `drain`). */
  write(bytes: Uint8Array): boolean;
  /** Flush what is queued, half-close, and wait (bounded) for the peer to close. */
  end(timeoutMs: number): Promise<void>;
  destroy(): void;
}

export interface DialOptions {
  localAddress?: string;
  localPort?: number;
}

/** Open a TCP connection; rejects with kind 'io' (refused, unreachable) — never hangs past the caller's timer. */
export function dialTcp(
  server: ServerAddress,
  options: DialOptions,
  handlers: TransportHandlers,
): { transport: Transport; ready: Promise<void> } {
  const socket = net.connect({
    host: server.host,
    port: server.port,
    localAddress: options.localAddress,
    localPort: options.localPort,
    noDelay: true,
  });
  let settled = false;
  let closedReported = false;
  const reportClosed = (error?: NatsError) => {
    if (closedReported) return;
    closedReported = true;
    handlers.closed(error);
  };
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      settled = true;
      resolve();
    });
    socket.once('error', (err) => {
      const error = new NatsError('io', `${server.url}: ${err.message}`, { cause: err });
      if (!settled) {
        settled = true;
        reject(error);
      }
      reportClosed(error);
    });
  });
  socket.on('data', handlers.data);
  socket.on('drain', handlers.drain);
  socket.once('close', () => reportClosed());
  const transport: Transport = {
    write: (bytes) => socket.write(bytes),
    end: (timeoutMs) =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        const timer = setTimeout(() => socket.destroy(), timeoutMs);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.end();
      }),
    destroy: () => socket.destroy(),
  };
  return { transport, ready };
}
