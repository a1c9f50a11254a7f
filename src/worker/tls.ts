/**
 * TLS policy for one connection attempt: whether to upgrade, the Node options to upgrade with,
 * and what a TLS failure is called. The handshake itself happens in transport.ts.
 *
 * Which settings win (documented on `ConnectOptions.tlsClientConfig` too):
 * - `tlsClientConfig(options)` is the base;
 * - `addRootCertificates` files are added to its `ca` — or, without one, to Node's default CAs;
 * - `addClientCertificate` replaces its `cert` and `key`;
 * - its `servername` replaces the name the certificate is verified against (and sent as SNI);
 * - otherwise the certificate must name the configured host — for a server discovered by IP,
 *   the configured host name it was announced through (`ServerAddress.tlsName`).
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { NatsError } from '../shared/errors.js';
import type { TlsSettings } from '../shared/options.js';
import type { ServerInfo } from '../shared/server-info.js';
import type { ServerAddress } from '../shared/servers.js';

/** One secure context per settings object (one per worker): CA lists are parsed once, not per reconnect. */
const contexts = new WeakMap<TlsSettings, tls.SecureContext>();

/** The name the server's certificate must carry. */
export function verifyName(server: ServerAddress, settings: TlsSettings | undefined): string {
  const servername = settings?.config?.servername;
  if (typeof servername === 'string' && servername !== '') return servername;
  return server.tlsName ?? server.host;
}

/**
 * After INFO: upgrade when the server requires TLS, the URL is `tls://`, `requireTls(true)` was
 * set, or the server merely offers TLS and TLS material was configured. A required upgrade
 * that the server does not offer is an error of kind 'tls'.
 */
export function upgradeAfterInfo(
  server: ServerAddress,
  settings: TlsSettings | undefined,
  info: ServerInfo,
): boolean {
  const offered = info.tlsRequired || info.tlsAvailable;
  const demand = settings?.required
    ? 'requireTls(true)'
    : server.scheme === 'tls'
      ? 'the tls:// URL'
      : undefined;
  if (demand !== undefined && !offered) {
    throw new NatsError(
      'tls',
      `${server.url}: TLS is required by ${demand} but the server does not offer it`,
    );
  }
  if (demand !== undefined || info.tlsRequired) return true;
  return offered && settings !== undefined && hasMaterial(settings);
}

/**
 * `requireTls(true)` with a `ws://` server: a stream that cannot be upgraded (the INFO of a
 * WebSocket listener speaks of the server's TCP one, so nothing there could change it).
 */
export function unencryptedRefused(server: ServerAddress): NatsError {
  return new NatsError(
    'tls',
    `${server.url}: TLS is required by requireTls(true) but ws:// is not encrypted; use wss://`,
  );
}

function hasMaterial(settings: TlsSettings): boolean {
  return settings.roots.length > 0 || settings.clientCert !== undefined || !!settings.config;
}

/** Node options for `tls.connect` over the already connected TCP socket. */
export function connectOptions(
  server: ServerAddress,
  settings: TlsSettings | undefined,
): tls.ConnectionOptions {
  const name = verifyName(server, settings);
  const options: tls.ConnectionOptions = {
    ...settings?.config,
    // With a socket given, `host` is only the name checkServerIdentity verifies.
    host: name,
    // SNI carries host names only (RFC 6066); Node warns when given an IP.
    servername: isIP(name) ? undefined : name,
  };
  if (settings) options.secureContext = secureContext(server, settings);
  return options;
}

function secureContext(server: ServerAddress, settings: TlsSettings): tls.SecureContext {
  let context = contexts.get(settings);
  if (context) return context;
  const base: tls.SecureContextOptions = { ...settings.config };
  if (settings.roots.length > 0) {
    const configured = base.ca === undefined ? tls.rootCertificates : [base.ca].flat();
    base.ca = [...configured, ...settings.roots.map((r) => r.pem)];
  }
  if (settings.clientCert) {
    base.cert = settings.clientCert.cert;
    base.key = settings.clientCert.key;
  }
  try {
    context = tls.createSecureContext(base);
  } catch (cause) {
    // OpenSSL's message names the problem (e.g. "key values mismatch"), never the key itself.
    throw new NatsError(
      'tls',
      `${server.url}: TLS configuration rejected: ${(cause as Error).message}`,
      { cause },
    );
  }
  contexts.set(settings, context);
  return context;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** TLS alerts with which a server rejects the client's certificate (or its absence). */
const CLIENT_CERT_ALERT =
  /ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|ACCESS_DENIED|DECRYPT_ERROR)$/;

const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_RECORD_LAYER_FAILURE',
]);

/**
 * A failed handshake, or a connection lost between the handshake and the first PONG (with
 * TLS 1.3 a refused client certificate shows only then), as a kind 'tls' error whose message
 * names the cause — the OpenSSL/Node code where there is one.
 */
export function tlsError(
  server: ServerAddress,
  settings: TlsSettings | undefined,
  err: unknown,
  afterHandshake: boolean,
): NatsError {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err ?? 'connection closed');
  const clientCert = settings?.clientCert !== undefined || hasConfiguredCert(settings);
  let text: string;
  if (typeof code === 'string' && UNTRUSTED.has(code)) {
    text = `the server certificate is not trusted (${code}): its CA is unknown; trust it with addRootCertificates()`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = (err as { reason?: string }).reason ?? message;
    text = `the server certificate does not match ${verifyName(server, settings)} (${code}): ${reason}`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    text = `the server certificate has expired (${code})`;
  } else if (code === 'CERT_NOT_YET_VALID') {
    text = `the server certificate is not yet valid (${code})`;
  } else if (typeof code === 'string' && CLIENT_CERT_ALERT.test(code)) {
    text = clientCert
      ? `the server refused the client certificate (${code})`
      : `the server requires a client certificate and none is configured (${code}); see addClientCertificate()`;
  } else if (typeof code === 'string' && NOT_TLS.has(code)) {
    text = `the server did not answer in TLS (${code})${settings?.handshakeFirst ? '; tlsFirst() needs a server with handshake_first' : ''}`;
  } else if (afterHandshake) {
    text = `the server closed the connection after the TLS handshake (${message}); it may have refused ${clientCert ? 'the client certificate' : 'a client without a certificate (see addClientCertificate())'}`;
  } else {
    text = `handshake failed: ${message}${typeof code === 'string' ? ` (${code})` : ''}`;
  }
  return new NatsError('tls', `${server.url}: TLS: ${text}`, { cause: err });
}

function hasConfiguredCert(settings: TlsSettings | undefined): boolean {
  const config = settings?.config;
  return config !== undefined && (config.cert !== undefined || config.pfx !== undefined);
}
