/**
 * What a session's handshake says (session.ts runs its phases, session-phase.ts names them):
 * the CONNECT fields of this client, the TLS handshake over the open transport, and the
 * errors a handshake that does not finish in time, or that the server refuses, fails with.
 */
import { NatsError } from '../shared/errors.js';
import type { TlsSettings, WorkerOptions } from '../shared/options.js';
import type { ServerAddress } from '../shared/servers.js';
import type { Phase } from './session-phase.js';
import { connectOptions, tlsError } from './tls.js';
import type { Transport } from './transport.js';

const CLIENT_VERSION = '0.1.0';

/**
 * CONNECT's fields but the credentials (auth.ts builds those). Headers and no-responders
 * replies are asked for only of a server whose INFO offers headers: nats-server refuses a
 * CONNECT that asks for no_responders without them ("no responders requires headers support").
 */
export function connectFields(
  options: WorkerOptions,
  encrypted: boolean,
  serverHeaders: boolean,
): Record<string, unknown> {
  return {
    verbose: false,
    pedantic: false,
    lang: 'nats-offload',
    version: CLIENT_VERSION,
    protocol: 1,
    headers: serverHeaders,
    no_responders: serverHeaders,
    echo: !options.noEcho,
    name: options.name,
    tls_required: encrypted,
  };
}

/**
 * TLS handshake over the open transport (all of it on this worker thread). The parser has
 * consumed everything before it: the server sends nothing between INFO and our ClientHello.
 */
export async function secure(
  transport: Transport,
  server: ServerAddress,
  tls: TlsSettings | undefined,
): Promise<void> {
  if (!transport.startTls) {
    throw new NatsError('tls', `${server.url}: TLS is required but this transport has none`);
  }
  let options: ReturnType<typeof connectOptions>;
  try {
    options = connectOptions(server, tls);
  } catch (err) {
    throw err instanceof NatsError ? err : tlsError(server, tls, err, false);
  }
  await transport.startTls(options, (err) => tlsError(server, tls, err, false));
}

/** The handshake did not finish within connectionTimeout (`ms`); it stood in `phase`. */
export function handshakeTimedOut(server: ServerAddress, phase: Phase, ms: number): NatsError {
  if (phase === 'authenticating') {
    // Only the caller's callbacks (auth callback, JWT sign) can hold this phase up.
    return new NatsError(
      'callback',
      `${server.url}: the auth callback or JWT sign callback did not settle within connectionTimeout (${ms} ms)`,
    );
  }
  const tls = phase === 'tlsFirst' || phase === 'tlsUpgrade';
  return new NatsError(
    'timedOut',
    `${server.url}: no connection within ${ms} ms${tls ? ' (the TLS handshake did not finish)' : ''}`,
  );
}

/** A -ERR before the connection is open: the server refused the handshake. */
export function refused(server: ServerAddress, message: string): NatsError {
  const kind = /authori[sz]ation|authentication|user .*revoked|expired/i.test(message)
    ? 'authorizationViolation'
    : 'server';
  return new NatsError(kind, `${server.url}: ${message}`);
}
