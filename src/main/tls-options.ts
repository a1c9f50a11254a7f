/**
 * The TLS half of `ConnectOptions`: checks, file reading and redaction behind its TLS setters.
 * Each function returns a new {@link TlsSettings} (copy on write), so a resolved copy of the
 * options never changes when the builder is used again.
 *
 * Files are read here, synchronously, when the setter is called: a missing or unreadable file,
 * or one that does not hold what it should, is an `'invalidOption'` error naming the path at
 * once rather than a failed connection later. Error messages name paths, never contents.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls, { type ConnectionOptions } from 'node:tls';
import { typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { REDACTED, type TlsSettings } from '../shared/options.js';
import { flag, looksLikeSecretText, text } from './option-checks.js';

/** Keys of a Node TLS config that hold private material: shown as {@link REDACTED}. */
const SECRET_KEYS = new Set(['key', 'pfx', 'passphrase', 'session', 'privateKeyIdentifier']);

/** Keys the connection sets itself: the dialled socket and the server's address. */
const CONNECTION_KEYS = new Set(['socket', 'host', 'port', 'path', 'secureContext']);

/** How deep a TLS config may nest (`pfx: [{ buf, passphrase }]` is two levels). */
const MAX_DEPTH = 4;

function base(current: TlsSettings | undefined): TlsSettings {
  return current
    ? { ...current, roots: [...current.roots] }
    : { required: false, handshakeFirst: false, roots: [] };
}

export function withRequired(current: TlsSettings | undefined, required: unknown): TlsSettings {
  return { ...base(current), required: flag('requireTls', required) };
}

export function withHandshakeFirst(current: TlsSettings | undefined): TlsSettings {
  return { ...base(current), handshakeFirst: true };
}

export function withRoots(current: TlsSettings | undefined, pemPath: unknown): TlsSettings {
  const path = text('addRootCertificates path', pemPath);
  const pem = readText('addRootCertificates', path);
  certificate('addRootCertificates', path, pem);
  const next = base(current);
  next.roots.push({ path, pem });
  return next;
}

export function withClientCert(
  current: TlsSettings | undefined,
  certPemPath: unknown,
  keyPemPath: unknown,
): TlsSettings {
  const certPath = text('addClientCertificate certificate path', certPemPath);
  const keyPath = text('addClientCertificate key path', keyPemPath);
  const cert = readText('addClientCertificate', certPath);
  const key = readText('addClientCertificate', keyPath);
  const x509 = certificate('addClientCertificate', certPath, cert);
  // An encrypted key needs the passphrase from tlsClientConfig; the worker checks it then.
  if (!/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key)) {
    let matches: boolean;
    try {
      matches = x509.checkPrivateKey(createPrivateKey(key));
    } catch (cause) {
      // OpenSSL's message says what is wrong with the file, never what is in it.
      throw new NatsError(
        'invalidOption',
        `addClientCertificate: ${JSON.stringify(keyPath)} does not hold a PEM private key (${(cause as Error).message})`,
        { cause },
      );
    }
    if (!matches) {
      throw new NatsError(
        'invalidOption',
        `addClientCertificate: the key in ${JSON.stringify(keyPath)} does not belong to the certificate in ${JSON.stringify(certPath)}`,
      );
    }
  }
  return { ...base(current), clientCert: { certPath, keyPath, cert, key } };
}

/**
 * Check a Node `tls.ConnectionOptions` for the trip into the worker (structured clone: no
 * functions, no class instances but byte arrays) and for Node itself, and keep a deep copy.
 */
export function withConfig(current: TlsSettings | undefined, options: unknown): TlsSettings {
  if (!isPlainObject(options)) {
    throw new NatsError(
      'invalidOption',
      `tlsClientConfig takes a plain object of Node tls.ConnectionOptions, got ${typeName(options)}`,
    );
  }
  const config = plainCopy(options);
  for (const key of Object.keys(config)) {
    if (CONNECTION_KEYS.has(key)) {
      throw new NatsError(
        'invalidOption',
        `tlsClientConfig.${key} cannot be set: the connection worker dials the server and builds its own secure context`,
      );
    }
  }
  try {
    tls.createSecureContext(config as tls.SecureContextOptions);
  } catch (cause) {
    // Node's type errors end by quoting the value ("Received ..."): cut, it may be a key.
    const reason = (cause as Error).message.replace(/\.? Received .*$/s, '');
    throw new NatsError('invalidOption', `tlsClientConfig was rejected by Node's TLS: ${reason}`);
  }
  return { ...base(current), config };
}

/** What inspect and JSON show of the TLS settings: paths and flags, no private material. */
export function redactTlsSettings(settings: TlsSettings): Record<string, unknown> {
  const shown: Record<string, unknown> = {
    required: settings.required,
    handshakeFirst: settings.handshakeFirst,
    roots: settings.roots.map((r) => r.path),
  };
  if (settings.clientCert) {
    shown.clientCert = {
      certPath: settings.clientCert.certPath,
      keyPath: settings.clientCert.keyPath,
      key: REDACTED,
    };
  }
  if (settings.config) shown.config = redactConfig(settings.config, 0);
  return shown;
}

function redactConfig(value: unknown, depth: number): unknown {
  if (holdsPrivateKey(value)) return REDACTED; // in any field, at any depth (cert: [pem])
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, depth + 1));
  if (!isPlainObject(value) || depth > MAX_DEPTH) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key) ? REDACTED : redactConfig(v, depth + 1);
  }
  return out;
}

/** A PEM private key in a field that usually holds none (a file with `cert` and key together). */
function holdsPrivateKey(value: unknown): boolean {
  const pem =
    typeof value === 'string'
      ? value
      : value instanceof Uint8Array
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1')
        : '';
  return pem.includes('PRIVATE KEY-----');
}

function readText(option: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    // Not quoted, and no cause: Node's error and its message quote the path too.
    if (looksLikeSecretText(path)) {
      throw new NatsError(
        'invalidOption',
        `${option}: was given PEM text, not a path (${code ?? 'unreadable'})`,
      );
    }
    throw new NatsError(
      'invalidOption',
      `${option}: cannot read ${JSON.stringify(path)}: ${code ?? (cause as Error).message}`,
      { cause },
    );
  }
}

function certificate(option: string, path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new NatsError(
      'invalidOption',
      `${option}: ${JSON.stringify(path)} does not hold a PEM certificate`,
      { cause },
    );
  }
}

function checkCloneable(value: unknown, where: string, depth: number): void {
  if (typeof value === 'function') {
    const hint =
      where === 'tlsClientConfig.checkServerIdentity'
        ? ' (to verify against another name, set tlsClientConfig.servername)'
        : '';
    throw new NatsError(
      'invalidOption',
      `${where} is a function: functions cannot cross into the connection worker, where TLS runs${hint}`,
    );
  }
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'symbol') {
      throw new NatsError(
        'invalidOption',
        `${where} is a symbol, which cannot cross into the connection worker`,
      );
    }
    return;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return;
  if (depth >= MAX_DEPTH) {
    throw new NatsError('invalidOption', `${where} nests deeper than ${MAX_DEPTH} levels`);
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkCloneable(item, `${where}[${i}]`, depth + 1);
    return;
  }
  if (!isPlainObject(value)) {
    throw new NatsError(
      'invalidOption',
      `${where} is ${typeName(value)}, which cannot cross into the connection worker (use strings, Buffers, numbers, booleans)`,
    );
  }
  for (const [key, v] of Object.entries(value)) checkCloneable(v, `${where}.${key}`, depth + 1);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  try {
    const proto = Object.getPrototypeOf(value); // a Proxy's trap may throw
    return proto === Object.prototype || proto === null;
  } catch {
    return false;
  }
}

/**
 * A checked deep copy of the caller's config, taken once: its getters run here only, so what
 * is checked is what is kept, and what they throw is 'invalidOption'.
 */
function plainCopy(options: Record<string, unknown>): Record<string, unknown> {
  let config: Record<string, unknown>;
  try {
    checkCloneable(options, 'tlsClientConfig', 0);
    config = structuredClone(options);
  } catch (cause) {
    if (cause instanceof NatsError) throw cause;
    throw new NatsError('invalidOption', 'tlsClientConfig could not be read', { cause });
  }
  // The copy is data: check it again, in case a getter answered differently the second time.
  checkCloneable(config, 'tlsClientConfig', 0);
  return config;
}

/**
 * Node `tls.ConnectionOptions` as `tlsClientConfig` takes them: without what the connection sets
 * itself and without callbacks, which cannot reach the worker the handshake runs on.
 */
export type TlsClientConfig = Omit<
  ConnectionOptions,
  | 'socket'
  | 'host'
  | 'port'
  | 'path'
  | 'secureContext'
  | 'checkServerIdentity'
  | 'lookup'
  | 'pskCallback'
  | 'SNICallback'
  | 'ALPNCallback'
>;
