// The worker's TLS policy without sockets: when to upgrade after INFO, which name a certificate
// must carry (configured, discovered by IP, servername override), and what each failure is called.

import { describe, expect, it } from 'vitest';
import type { TlsSettings } from '../../src/shared/options.js';
import { toServerInfo } from '../../src/shared/server-info.js';
import { parseServerUrl } from '../../src/shared/servers.js';
import { ServerPool } from '../../src/worker/server-pool.js';
import { connectOptions, tlsError, upgradeAfterInfo, verifyName } from '../../src/worker/tls.js';

const plainInfo = toServerInfo({});
const offersInfo = toServerInfo({ tls_available: true });
const requiresInfo = toServerInfo({ tls_required: true });
const settings = (s: Partial<TlsSettings> = {}): TlsSettings => ({
  required: false,
  handshakeFirst: false,
  roots: [],
  ...s,
});
const nats = parseServerUrl('nats://nats.example:4222');
const tlsUrl = parseServerUrl('tls://nats.example:4222');

describe('upgradeAfterInfo', () => {
  it.each([
    ['plain server, nothing asked: no', nats, undefined, plainInfo, false],
    ['server requires: yes', nats, undefined, requiresInfo, true],
    ['server offers, nothing asked: no', nats, undefined, offersInfo, false],
    [
      'server offers, roots configured: yes',
      nats,
      settings({ roots: [{ path: 'p', pem: 'x' }] }),
      offersInfo,
      true,
    ],
    ['server offers, tls:// URL: yes', tlsUrl, undefined, offersInfo, true],
    ['server offers, requireTls(true): yes', nats, settings({ required: true }), offersInfo, true],
    [
      'server requires, requireTls(false): yes',
      nats,
      settings({ required: false }),
      requiresInfo,
      true,
    ],
  ] as const)('%s', (_name, server, tls, info, expected) => {
    expect(upgradeAfterInfo(server, tls, info)).toBe(expected);
  });

  it.each([
    ['requireTls(true)', nats, settings({ required: true }), /requireTls\(true\)/],
    ['a tls:// URL', tlsUrl, undefined, /tls:\/\/ URL/],
  ] as const)("%s against a plain server is 'tls'", (_name, server, tls, pattern) => {
    let error: unknown;
    try {
      upgradeAfterInfo(server, tls, plainInfo);
    } catch (e) {
      error = e;
    }
    expect((error as { kind?: string }).kind).toBe('tls');
    expect((error as Error).message).toMatch(pattern);
  });
});

describe('the name a server certificate must carry', () => {
  it('is the configured host', () => {
    expect(verifyName(nats, undefined)).toBe('nats.example');
  });

  it('is tlsClientConfig.servername when set', () => {
    expect(verifyName(nats, settings({ config: { servername: 'other.example' } }))).toBe(
      'other.example',
    );
  });

  it('sends no SNI for an IP, but still verifies the IP', () => {
    const options = connectOptions(parseServerUrl('tls://127.0.0.1:4222'), undefined);
    expect(options.host).toBe('127.0.0.1');
    expect(options.servername).toBeUndefined();
  });

  it('a server discovered by IP inherits the configured host name, along a chain', () => {
    const pool = new ServerPool([tlsUrl], true, false);
    pool.discovered(['10.0.0.2:4222', 'nats-3.example:4222'], tlsUrl);
    const byIp = pool.find('tls://10.0.0.2:4222')!.address;
    const byName = pool.find('tls://nats-3.example:4222')!.address;
    expect(byIp.scheme).toBe('tls');
    expect(byIp.tlsName).toBe('nats.example');
    expect(verifyName(byIp, undefined)).toBe('nats.example');
    expect(connectOptions(byIp, undefined).servername).toBe('nats.example');
    expect(byName.tlsName).toBeUndefined();
    // Discovered again through the IP-discovered server: still the original name.
    pool.discovered(['10.0.0.3:4222'], byIp);
    const second = pool.find('tls://10.0.0.3:4222')!.address;
    expect(second.tlsName).toBe('nats.example');
  });

  it('a server configured by IP gives discovered IPs no other name', () => {
    const configured = parseServerUrl('tls://10.0.0.1:4222');
    const pool = new ServerPool([configured], true, false);
    pool.discovered(['10.0.0.2:4222'], configured);
    const found = pool.find('tls://10.0.0.2:4222')!.address;
    expect(found.tlsName).toBeUndefined();
    expect(verifyName(found, undefined)).toBe('10.0.0.2');
  });
});

describe('tlsError names the cause', () => {
  const withCode = (code: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`boom ${code}`), { code, ...extra });
  const mtls = settings({ clientCert: { certPath: 'c', keyPath: 'k', cert: 'C', key: 'K' } });

  it.each([
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      undefined,
      false,
      /not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\).*addRootCertificates/,
    ],
    ['SELF_SIGNED_CERT_IN_CHAIN', undefined, false, /not trusted/],
    [
      'ERR_TLS_CERT_ALTNAME_INVALID',
      undefined,
      false,
      /does not match nats\.example \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
    ],
    ['CERT_HAS_EXPIRED', undefined, false, /expired \(CERT_HAS_EXPIRED\)/],
    [
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      undefined,
      true,
      /requires a client certificate and none is configured/,
    ],
    [
      'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
      mtls,
      false,
      /refused the client certificate \(ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE\)/,
    ],
    [
      'ERR_SSL_WRONG_VERSION_NUMBER',
      settings({ handshakeFirst: true }),
      false,
      /did not answer in TLS.*handshake_first/,
    ],
    ['ECONNRESET', mtls, true, /closed the connection after the TLS handshake.*client certificate/],
    ['ECONNRESET', undefined, false, /handshake failed: boom ECONNRESET \(ECONNRESET\)/],
  ] as const)('%s', (code, tls, after, pattern) => {
    const error = tlsError(nats, tls, withCode(code), after);
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/^nats:\/\/nats\.example:4222: TLS: /);
    expect(error.message).toMatch(pattern);
  });
});
