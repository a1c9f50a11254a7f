import { DEFAULT_MAX_PAYLOAD } from './layout.js';

/** Server INFO, camelCase. Unknown fields are kept as they came. */
export interface ServerInfo {
  /** The server's unique id (`server_id`); empty before the first INFO. */
  serverId: string;
  /** The server's configured name (`server_name`); empty before the first INFO. */
  serverName: string;
  /** The server version, e.g. `2.10.4`; see `Client.isServerCompatible`. */
  version: string;
  /** Protocol version the server speaks. */
  proto: number;
  /** The host the server listens on, as it reports it. */
  host: string;
  /** The client port the server listens on. */
  port: number;
  /**
   * Largest payload the server accepts, in bytes (1 MiB before the first INFO); a larger
   * publish throws `'maxPayloadExceeded'`.
   */
  maxPayload: number;
  /** Whether the server supports message headers. */
  headers: boolean;
  /** Whether the server requires authentication. */
  authRequired: boolean;
  /** Whether the server requires TLS. */
  tlsRequired: boolean;
  /** Whether the server offers TLS without requiring it (`allow_non_tls`). */
  tlsAvailable: boolean;
  /** Cluster members the server announces; added to the pool unless `ignoreDiscoveredServers()`. */
  connectUrls: string[];
  /** The nonce an NKey or JWT login signs. */
  nonce?: string;
  /** True when the server is shutting down (`ldm`): reconnect elsewhere soon. */
  lameDuckMode: boolean;
  /** The id the server gave this connection. */
  clientId?: number;
  /** This client's address as the server sees it. */
  clientIp?: string;
  /** The cluster the server belongs to. */
  cluster?: string;
  /** Whether JetStream is enabled on the server. */
  jetstream: boolean;
  [key: string]: unknown;
}

/**
 * How deeply an unknown INFO field may nest to be kept. The info crosses threads by structured
 * clone, which fails on JSON nested a few thousand levels deep (valid JSON all the same): such a
 * field would stop the connection's events, not only itself.
 */
const MAX_UNKNOWN_DEPTH = 32;

/**
 * snake_case INFO as the server sends it → {@link ServerInfo}; unknown keys are camelCased and
 * kept, unless they nest deeper than {@link MAX_UNKNOWN_DEPTH}.
 */
export function toServerInfo(raw: Record<string, unknown>): ServerInfo {
  const camel: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!nestsWithin(value, MAX_UNKNOWN_DEPTH)) continue;
    camel[key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  }
  return {
    ...camel,
    serverId: textOf(raw.server_id),
    serverName: textOf(raw.server_name),
    version: textOf(raw.version),
    proto: numberOf(raw.proto),
    host: textOf(raw.host),
    port: numberOf(raw.port),
    maxPayload: maxPayloadOf(raw.max_payload),
    headers: raw.headers === true,
    authRequired: raw.auth_required === true,
    tlsRequired: raw.tls_required === true,
    tlsAvailable: raw.tls_available === true,
    connectUrls: Array.isArray(raw.connect_urls)
      ? raw.connect_urls.filter((u): u is string => typeof u === 'string')
      : [],
    nonce: typeof raw.nonce === 'string' ? raw.nonce : undefined,
    lameDuckMode: raw.ldm === true,
    clientId: typeof raw.client_id === 'number' ? raw.client_id : undefined,
    clientIp: typeof raw.client_ip === 'string' ? raw.client_ip : undefined,
    cluster: typeof raw.cluster === 'string' ? raw.cluster : undefined,
    jetstream: raw.jetstream === true,
  };
}

/** Whether parsed JSON `value` nests no deeper than `depth` (looks no deeper than that). */
function nestsWithin(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth === 0) return false;
  for (const inner of Object.values(value)) if (!nestsWithin(inner, depth - 1)) return false;
  return true;
}

/**
 * INFO is JSON from the server, any shape: a field of the wrong type reads as empty, never
 * through String()/Number() (an object with a hostile `toString` would throw).
 */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function numberOf(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** What `serverInfo()` says before the first INFO: empty strings, the default max_payload. */
export function defaultServerInfo(): ServerInfo {
  return toServerInfo({ max_payload: DEFAULT_MAX_PAYLOAD });
}

/**
 * INFO `max_payload` as publish checks it: the server default when missing, not a number or
 * not positive (a limit of 0 or NaN would refuse every publish), and at most 2^31 − 1, which
 * the shared state block's Int32 holds (larger would wrap negative and refuse every publish
 * too; no message that large fits the command ring anyway).
 */
function maxPayloadOf(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 1)) return DEFAULT_MAX_PAYLOAD;
  return Math.min(Math.floor(value), MAX_INT32);
}

const MAX_INT32 = 2 ** 31 - 1;

/** `version` "x.y.z[-tag]" is at least major.minor.patch. */
export function versionAtLeast(
  version: string,
  major: number,
  minor: number,
  patch: number,
): boolean {
  const [a = 0, b = 0, c = 0] = version
    .split('-')[0]
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  if (a !== major) return a > major;
  if (b !== minor) return b > minor;
  return c >= patch;
}
