// The TLS setters of ConnectOptions: what each rejects (table), what it keeps, what it copies,
// and that private keys never show in inspect, JSON or errors. Certificates come from openssl.

import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectOptions } from '../../src/main/options.js';
import { NatsError } from '../../src/shared/errors.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';

let certs: TestCerts;
let notPem: string;

beforeAll(async () => {
  certs = await makeTestCerts();
  notPem = path.join(certs.dir, 'not-pem.txt');
  await writeFile(notPem, 'hello\n');
});

afterAll(async () => {
  await certs?.remove();
});

function errorOf(fn: () => unknown): NatsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NatsError);
    return e as NatsError;
  }
  throw new Error('expected a throw');
}

const missing = '/nonexistent/nats-offload/ca.pem';

describe('TLS setters reject bad values with invalidOption naming the option', () => {
  // [name, call, message pattern]; functions because the cert paths exist only after beforeAll.
  const cases: [string, () => unknown, RegExp][] = [
    ['requireTls("yes")', () => new ConnectOptions().requireTls('yes' as never), /requireTls/],
    ['requireTls()', () => (new ConnectOptions().requireTls as () => unknown)(), /requireTls/],
    [
      'addRootCertificates("")',
      () => new ConnectOptions().addRootCertificates(''),
      /addRootCertificates/,
    ],
    [
      'addRootCertificates(42)',
      () => new ConnectOptions().addRootCertificates(42 as never),
      /addRootCertificates/,
    ],
    [
      'addRootCertificates(missing file)',
      () => new ConnectOptions().addRootCertificates(missing),
      /addRootCertificates.*\/nonexistent\/nats-offload\/ca\.pem.*ENOENT/,
    ],
    [
      'addRootCertificates(a directory)',
      () => new ConnectOptions().addRootCertificates(certs.dir),
      /addRootCertificates.*cannot read.*EISDIR/,
    ],
    [
      'addRootCertificates(not PEM)',
      () => new ConnectOptions().addRootCertificates(notPem),
      /addRootCertificates.*not-pem\.txt.*does not hold a PEM certificate/,
    ],
    [
      'addRootCertificates(a key file)',
      () => new ConnectOptions().addRootCertificates(certs.client.key),
      /addRootCertificates.*client\.key.*does not hold a PEM certificate/,
    ],
    [
      'addClientCertificate(missing cert, key)',
      () => new ConnectOptions().addClientCertificate(missing, certs.client.key),
      /addClientCertificate.*nonexistent.*ENOENT/,
    ],
    [
      'addClientCertificate(cert, missing key)',
      () => new ConnectOptions().addClientCertificate(certs.client.cert, `${certs.dir}/nope.key`),
      /addClientCertificate.*nope\.key.*ENOENT/,
    ],
    [
      'addClientCertificate(cert, undefined)',
      () => new ConnectOptions().addClientCertificate(certs.client.cert, undefined as never),
      /addClientCertificate key path/,
    ],
    [
      'addClientCertificate(key as cert)',
      () => new ConnectOptions().addClientCertificate(certs.client.key, certs.client.key),
      /addClientCertificate.*client\.key.*does not hold a PEM certificate/,
    ],
    [
      'addClientCertificate(cert, cert as key)',
      () => new ConnectOptions().addClientCertificate(certs.client.cert, certs.client.cert),
      /addClientCertificate.*client\.pem.*does not hold a PEM private key/,
    ],
    [
      'addClientCertificate(cert, another key)',
      () => new ConnectOptions().addClientCertificate(certs.client.cert, certs.otherClient.key),
      /addClientCertificate.*other-client\.key.*does not belong to.*client\.pem/,
    ],
    [
      'tlsClientConfig(null)',
      () => new ConnectOptions().tlsClientConfig(null as never),
      /tlsClientConfig.*plain object.*null/,
    ],
    [
      'tlsClientConfig("x")',
      () => new ConnectOptions().tlsClientConfig('x' as never),
      /tlsClientConfig.*string/,
    ],
    [
      'tlsClientConfig([])',
      () => new ConnectOptions().tlsClientConfig([] as never),
      /tlsClientConfig.*array/,
    ],
    [
      'tlsClientConfig({ checkServerIdentity })',
      () => new ConnectOptions().tlsClientConfig({ checkServerIdentity: () => undefined } as never),
      /tlsClientConfig\.checkServerIdentity is a function.*servername/,
    ],
    [
      'tlsClientConfig({ pskCallback })',
      () => new ConnectOptions().tlsClientConfig({ pskCallback: () => null } as never),
      /tlsClientConfig\.pskCallback is a function/,
    ],
    [
      'tlsClientConfig({ socket })',
      () => new ConnectOptions().tlsClientConfig({ socket: {} } as never),
      /tlsClientConfig\.socket cannot be set/,
    ],
    [
      'tlsClientConfig({ host })',
      () => new ConnectOptions().tlsClientConfig({ host: 'a' } as never),
      /tlsClientConfig\.host cannot be set/,
    ],
    [
      'tlsClientConfig({ ca: [Map] })',
      () => new ConnectOptions().tlsClientConfig({ ca: [new Map()] } as never),
      /tlsClientConfig\.ca\[0\] is a Map/,
    ],
    [
      'tlsClientConfig({ minVersion: "TLSv9" })',
      () => new ConnectOptions().tlsClientConfig({ minVersion: 'TLSv9' as never }),
      /tlsClientConfig was rejected by Node's TLS.*TLSv9/,
    ],
    [
      'tlsClientConfig({ key: "garbage" })',
      () => new ConnectOptions().tlsClientConfig({ key: 'garbage' }),
      /tlsClientConfig was rejected by Node's TLS/,
    ],
  ];

  it.each(cases)('%s', (_name, fn, pattern) => {
    const error = errorOf(fn);
    expect(error.kind).toBe('invalidOption');
    expect(error.message).toMatch(pattern);
  });
});

describe('what the TLS setters keep', () => {
  it('has no TLS settings until a TLS setter is called', () => {
    expect(new ConnectOptions().resolve().worker.tls).toBeUndefined();
  });

  it('keeps flags, every root in call order, the client certificate and a config', () => {
    const tls = new ConnectOptions()
      .requireTls(true)
      .tlsFirst()
      .addRootCertificates(certs.ca)
      .addRootCertificates(certs.otherCa)
      .addClientCertificate(certs.client.cert, certs.client.key)
      .tlsClientConfig({ minVersion: 'TLSv1.3', ca: readFileSync(certs.ca) })
      .resolve().worker.tls;
    expect(tls?.required).toBe(true);
    expect(tls?.handshakeFirst).toBe(true);
    expect(tls?.roots.map((r) => r.path)).toEqual([certs.ca, certs.otherCa]);
    expect(tls?.roots[0].pem).toBe(readFileSync(certs.ca, 'utf8'));
    expect(tls?.clientCert?.certPath).toBe(certs.client.cert);
    expect(tls?.clientCert?.key).toBe(readFileSync(certs.client.key, 'utf8'));
    expect(tls?.config?.minVersion).toBe('TLSv1.3');
  });

  it('requireTls(false) after true turns the requirement off', () => {
    expect(
      new ConnectOptions().requireTls(true).requireTls(false).resolve().worker.tls?.required,
    ).toBe(false);
  });

  it('survives the structured clone into the worker', () => {
    const worker = new ConnectOptions()
      .addRootCertificates(certs.ca)
      .addClientCertificate(certs.client.cert, certs.client.key)
      .tlsClientConfig({ ca: [readFileSync(certs.ca)], servername: 'localhost' })
      .resolve().worker;
    const cloned = structuredClone(worker);
    expect(cloned.tls?.roots).toEqual(worker.tls?.roots);
    expect(cloned.tls?.config?.servername).toBe('localhost');
    expect(cloned.tls?.config?.ca).toEqual([new Uint8Array(readFileSync(certs.ca))]);
  });

  it("copies: neither the caller's config object nor later setter calls change a resolved copy", () => {
    const config: Record<string, unknown> = { servername: 'a.example' };
    const builder = new ConnectOptions()
      .addRootCertificates(certs.ca)
      .tlsClientConfig(config as never);
    const resolved = builder.resolve();
    config.servername = 'b.example';
    builder.addRootCertificates(certs.otherCa).requireTls(true);
    expect(resolved.worker.tls?.config?.servername).toBe('a.example');
    expect(resolved.worker.tls?.roots).toHaveLength(1);
    expect(resolved.worker.tls?.required).toBe(false);
  });

  it('works through ConnectOptions.from', async () => {
    const options = await ConnectOptions.from({
      requireTls: true,
      tlsFirst: true,
      addRootCertificates: certs.ca,
      addClientCertificate: [certs.client.cert, certs.client.key],
    });
    const tls = options.resolve().worker.tls;
    expect(tls?.required && tls.handshakeFirst).toBe(true);
    expect(tls?.clientCert?.keyPath).toBe(certs.client.key);
  });
});

describe('TLS secrets never show', () => {
  const keyBody = () =>
    readFileSync(certs.client.key, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('-----'))
      .join('');

  it('inspect and JSON show the key path but not the key', () => {
    const options = new ConnectOptions()
      .addRootCertificates(certs.ca)
      .addClientCertificate(certs.client.cert, certs.client.key);
    for (const shown of [inspect(options, { depth: 10 }), JSON.stringify(options)]) {
      expect(shown).toContain(certs.client.key);
      expect(shown).toContain(certs.ca);
      const body = keyBody();
      expect(shown).not.toContain(body.slice(0, 24));
      expect(shown).not.toContain('PRIVATE KEY');
    }
  });

  it('inspect and JSON redact key, pfx and passphrase given to tlsClientConfig', () => {
    const key = readFileSync(certs.client.key, 'utf8');
    const options = new ConnectOptions().tlsClientConfig({
      cert: readFileSync(certs.client.cert, 'utf8'),
      key,
      passphrase: 'p4ssphr4se-not-shown',
      minVersion: 'TLSv1.2',
    });
    for (const shown of [inspect(options, { depth: 10 }), JSON.stringify(options)]) {
      expect(shown).not.toContain('PRIVATE KEY');
      expect(shown).not.toContain('p4ssphr4se-not-shown');
      expect(shown).toContain('<redacted>');
      expect(shown).toContain('TLSv1.2');
    }
  });

  it('errors about a key name its path, never its content', () => {
    const error = errorOf(() =>
      new ConnectOptions().addClientCertificate(certs.client.cert, certs.otherClient.key),
    );
    const otherBody = readFileSync(certs.otherClient.key, 'utf8');
    expect(error.message).toContain(certs.otherClient.key);
    expect(error.message).not.toContain(otherBody.split('\n')[1]);
    const typed = errorOf(() =>
      new ConnectOptions().tlsClientConfig({ key: [true] as never, passphrase: 'x' }),
    );
    expect(typed.message).not.toMatch(/Received/);
  });
});
