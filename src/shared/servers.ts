import { describe, typeName } from './describe.js';
import { NatsError } from './errors.js';

/** A server address as the connection worker dials it. Plain data: it crosses threads. */
export interface ServerAddress {
  /**
   * Normalised URL, e.g. `nats://127.0.0.1:4222` (credentials stripped); a WebSocket URL keeps
   * its path (`wss://host:443/nats`). What the pool, errors and events show.
   */
  url: string;
  /**
   * A WebSocket URL's query (`?…`), dialled but never shown: a proxy may take a token there.
   */
  query?: string;
  scheme: 'nats' | 'tls' | 'ws' | 'wss';
  /** Host name or IP, IPv6 without brackets. */
  host: string;
  port: number;
  /**
   * The name a TLS certificate must match when it is not `host`: set on a server discovered by
   * IP from INFO `connect_urls`, to the configured host name it was announced through.
   */
  tlsName?: string;
  /** Credentials taken from the URL, used when no explicit ones are configured. */
  user?: string;
  pass?: string;
  token?: string;
}

const DEFAULT_PORTS: Record<ServerAddress['scheme'], number> = {
  nats: 4222,
  tls: 4222,
  ws: 80,
  wss: 443,
};

/** The longest DNS name (RFC 1035: 253 characters written out); IP literals are shorter. */
const MAX_HOST_CHARS = 253;

/**
 * Parse `nats://`, `tls://`, `ws://`, `wss://` or a bare `host[:port]` (IPv6 in brackets).
 * Credentials in the URL (`user:pass@` or `token@`) are kept apart from the normalised url so
 * they never appear in logs or the server pool snapshot.
 */
export function parseServerUrl(input: string): ServerAddress {
  if (typeof input !== 'string' || input.trim() === '') {
    throw new NatsError(
      'invalidOption',
      `server URL must be a non-empty string, got ${typeName(input)}`,
    );
  }
  const bare = !input.includes('://');
  // A bare address is host[:port] (API.md): one with a path is a mistyped URL (`nats:/h:4222`,
  // `h:/x`), which the URL parser would read as some other host or the default port.
  if (bare && /[/?#]/.test(input)) {
    throw new NatsError(
      'invalidOption',
      `server address ${describe(redactUrl(input))} is neither host[:port] nor scheme://host[:port]`,
    );
  }
  const text = bare ? `nats://${input.trim()}` : input.trim();
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    // No cause: Node's ERR_INVALID_URL carries the whole URL, credentials included, in `input`.
    throw new NatsError('invalidOption', `server URL ${describe(redactUrl(input))} is not a URL`);
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== 'nats' && scheme !== 'tls' && scheme !== 'ws' && scheme !== 'wss') {
    throw new NatsError(
      'invalidOption',
      `server URL scheme ${describe(scheme)} is not one of nats, tls, ws, wss`,
    );
  }
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (host === '') throw new NatsError('invalidOption', 'server URL has no host');
  if (host.length > MAX_HOST_CHARS) {
    // Not shown: a 100 MB name made a 200 MB error message once dialled.
    throw new NatsError(
      'invalidOption',
      `server URL host has ${host.length} characters, more than a DNS name's ${MAX_HOST_CHARS}`,
    );
  }
  const port = parsed.port === '' ? DEFAULT_PORTS[scheme] : Number(parsed.port);
  // A WebSocket endpoint may sit under a path (behind an HTTP proxy or ingress): it is part of
  // the address. A NATS URL's path means nothing.
  const isWs = scheme === 'ws' || scheme === 'wss';
  const path = isWs && parsed.pathname !== '/' ? parsed.pathname : '';
  const address: ServerAddress = {
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`,
    scheme,
    host,
    port,
  };
  if (isWs && parsed.search !== '') address.query = parsed.search;
  const user = decodeUserInfo(parsed.username);
  const pass = decodeUserInfo(parsed.password);
  if (user !== '' && parsed.password === '' && !text.includes(`${parsed.username}:@`)) {
    address.token = user;
  } else if (user !== '' || pass !== '') {
    // `:pass@host` too: an empty user with a password, as nats.go reads it (the server judges).
    address.user = user;
    address.pass = pass;
  }
  return address;
}

/**
 * Percent-decoded user or password; as written when it is not valid percent-encoding (a
 * password with a `%` in it, `nats://u:50%off@host`): it can only mean itself.
 */
function decodeUserInfo(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * `input` with everything between its scheme and its last `@` hidden, and any query after that
 * (a WebSocket proxy may take a token there). Not the URL parser's idea of the user info: the
 * text reaches here when it failed to parse, and a password may hold `/`, `#`, `?` or `@` that
 * end the user info for the parser (`nats://u:pa/ss@host`).
 *
 * @example
 * redactUrl('nats://u:pa/ss@host:4222');        // 'nats://***@host:4222'
 * redactUrl('user:pa#ss@host');                 // '***@host'
 * redactUrl('ws://host:99999/nats?token=abc');  // 'ws://host:99999/nats?***'
 */
export function redactUrl(input: string): string {
  const at = input.lastIndexOf('@');
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(input)?.[0] ?? '';
  const shown = at < 0 ? input : `${scheme}***${input.slice(at)}`;
  const query = shown.indexOf('?', at < 0 ? 0 : scheme.length);
  return query < 0 ? shown : `${shown.slice(0, query)}?***`;
}
