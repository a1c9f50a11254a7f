import { DEFAULT_MAX_PAYLOAD } from './layout.js';

/** Server INFO, camelCase. Unknown fields are kept as they came. */
export interface ServerInfo {
  serverId: string;
  serverName: string;
  version: string;
  proto: number;
  host: string;
  port: number;
  maxPayload: number;
  headers: boolean;
  authRequired: boolean;
  tlsRequired: boolean;
  tlsAvailable: boolean;
  connectUrls: string[];
  nonce?: string;
  lameDuckMode: boolean;
  clientId?: number;
  clientIp?: string;
  cluster?: string;
  jetstream: boolean;
  [key: string]: unknown;
}

/** snake_case INFO as the server sends it → {@link ServerInfo}; unknown keys are camelCased and kept. */
export function toServerInfo(raw: Record<string, unknown>): ServerInfo {
  const camel: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
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
