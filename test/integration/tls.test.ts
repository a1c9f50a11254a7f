// TLS against real nats-servers with certificates made by openssl at test time: upgrade after
// INFO (server-required, tls:// URL, requireTls), trust (roots, unknown CA, wrong host,
// expired), mutual TLS, tlsClientConfig, tlsFirst through a handshake-first relay, discovered
// servers verified against the configured name, and volume over TLS.

import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { type Client, ConnectOptions, NatsError } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { certSuite } from '../helpers/cert-suite.js';
import { tlsBlock } from '../helpers/certs.js';
import { freePort, type NatsServer, startCluster, startServer } from '../helpers/nats-server.js';
import { startTlsRelay } from '../helpers/tls-relay.js';
import { EventLog, withTimeout } from '../helpers/wait.js';

const suite = certSuite();
const { clients, cleanups } = suite;

/** A server for this test only, stopped after it. */
async function server(config: string, debug = false): Promise<NatsServer> {
  const s = await startServer({ config, debug });
  cleanups.push(() => s.stop());
  return s;
}

async function open(url: string | string[], options: ConnectOptions): Promise<Client> {
  const client = await options.connect(url);
  clients.push(client);
  return client;
}

/** The error a connect fails with. A long connectionTimeout shows that TLS errors come at once. */
async function connectError(url: string, options: ConnectOptions): Promise<NatsError> {
  try {
    const client = await options.connectionTimeout(20_000).connect(url);
    clients.push(client);
  } catch (error) {
    expect(error).toBeInstanceOf(NatsError);
    return error as NatsError;
  }
  throw new Error('expected connect to fail');
}

const trusting = () => new ConnectOptions().addRootCertificates(suite.certs.ca);
const tlsUrl = (s: NatsServer) => `tls://127.0.0.1:${s.port}`;

/** One message through the connection and back, proving the session works end to end. */
async function roundTrip(client: Client): Promise<void> {
  const got = new Promise<string>((resolve) => {
    client.subscribe('tls.echo', { callback: (m) => resolve(m.string()) });
  });
  await client.flush();
  client.publish('tls.echo', 'over tls');
  expect(await withTimeout(got, 5_000, 'the echo')).toBe('over tls');
}

/** The TLS version the server reports for each client connection (`/connz`). */
async function connzTls(httpPort: number): Promise<(string | undefined)[]> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/connz`);
  const body = (await res.json()) as { connections?: { tls_version?: string }[] };
  return (body.connections ?? []).map((c) => c.tls_version);
}

describe('upgrade after INFO', () => {
  it('upgrades when the server requires TLS, on a nats:// URL; CONNECT says tls_required', async () => {
    const s = await server(tlsBlock(suite.certs.server), true);
    const client = await open(s.url, trusting());
    expect(client.serverInfo().tlsRequired).toBe(true);
    await roundTrip(client);
    // The server's protocol trace shows the CONNECT it received (inside TLS).
    expect(await readFile(s.logPath, 'utf8')).toMatch(/CONNECT \{[^}]*"tls_required":true/);
  });

  it('counts protocol bytes, not TLS records, in statistics', async () => {
    const s = await server(tlsBlock(suite.certs.server));
    const client = await open(s.url, trusting());
    await client.flush();
    const before = client.statistics();
    client.publish('tls.count', 'x');
    await client.flush();
    const after = client.statistics();
    // "PUB tls.count 1\r\nx\r\n" (20) + "PING\r\n" (6) out, "PONG\r\n" (6) in.
    expect(after.outBytes - before.outBytes).toBe(20 + 6);
    expect(after.inBytes - before.inBytes).toBe(6);
  });

  it('upgrades for a tls:// URL when the server only offers TLS, and not for nats://', async () => {
    const httpPort = await freePort();
    const s = await server(
      [`http: 127.0.0.1:${httpPort}`, 'allow_non_tls: true', tlsBlock(suite.certs.server)].join(
        '\n',
      ),
    );
    const secure = await open(tlsUrl(s), trusting().name('secure'));
    expect(secure.serverInfo().tlsRequired).toBe(false);
    await roundTrip(secure);
    expect(await connzTls(httpPort)).toEqual([expect.stringMatching(/^1\.[23]$/)]);

    const plain = await open(s.url, new ConnectOptions());
    await plain.flush();
    const versions = await connzTls(httpPort);
    expect(versions).toHaveLength(2);
    expect(versions.filter((v) => v === undefined || v === '')).toHaveLength(1);
  });

  it('requireTls(true) upgrades on a nats:// URL when the server only offers TLS', async () => {
    const httpPort = await freePort();
    const s = await server(
      [`http: 127.0.0.1:${httpPort}`, 'allow_non_tls: true', tlsBlock(suite.certs.server)].join(
        '\n',
      ),
    );
    const client = await open(s.url, trusting().requireTls(true));
    await roundTrip(client);
    expect(await connzTls(httpPort)).toEqual([expect.stringMatching(/^1\.[23]$/)]);
  });

  it("requireTls(true) against a plain server fails connect at once with 'tls'", async () => {
    const s = await server('');
    const error = await connectError(s.url, new ConnectOptions().requireTls(true));
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/requireTls\(true\).*does not offer/);
  });

  it("a tls:// URL against a plain server fails with 'tls'", async () => {
    const s = await server('');
    const error = await connectError(tlsUrl(s), new ConnectOptions());
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/tls:\/\/ URL.*does not offer/);
  });
});

describe('verifying the server', () => {
  it("an unknown CA (Node's default roots only) is 'tls' naming the OpenSSL code", async () => {
    const s = await server(tlsBlock(suite.certs.server));
    const error = await connectError(s.url, new ConnectOptions());
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/);
  });

  it("a root from another CA is 'tls' too", async () => {
    const s = await server(tlsBlock(suite.certs.server));
    const error = await connectError(
      s.url,
      new ConnectOptions().addRootCertificates(suite.certs.otherCa),
    );
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/not trusted/);
  });

  it('accepts the right CA among several addRootCertificates calls', async () => {
    const s = await server(tlsBlock(suite.certs.server));
    const options = new ConnectOptions()
      .addRootCertificates(suite.certs.otherCa)
      .addRootCertificates(suite.certs.ca);
    await roundTrip(await open(s.url, options));
  });

  it("a certificate for another host is 'tls' (ERR_TLS_CERT_ALTNAME_INVALID)", async () => {
    const s = await server(tlsBlock(suite.certs.serverLocalhostOnly));
    const error = await connectError(s.url, trusting());
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/does not match 127\.0\.0\.1.*ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('tlsClientConfig servername replaces the name the certificate is verified against', async () => {
    const s = await server(tlsBlock(suite.certs.serverLocalhostOnly));
    await roundTrip(await open(s.url, trusting().tlsClientConfig({ servername: 'localhost' })));
  });

  it("an expired certificate is 'tls' (CERT_HAS_EXPIRED)", async () => {
    const s = await server(tlsBlock(suite.certs.serverExpired));
    const error = await connectError(s.url, trusting());
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/expired.*CERT_HAS_EXPIRED/);
  });

  it('tlsClientConfig with ca as a Buffer', async () => {
    const s = await server(tlsBlock(suite.certs.server));
    const ca = await readFile(suite.certs.ca);
    expect(Buffer.isBuffer(ca)).toBe(true);
    await roundTrip(await open(s.url, new ConnectOptions().tlsClientConfig({ ca })));
  });
});

describe('mutual TLS', () => {
  const mtls = () => tlsBlock(suite.certs.server, { ca: suite.certs.ca, verify: true });

  it('connects with the client certificate', async () => {
    const s = await server(mtls());
    const options = trusting().addClientCertificate(
      suite.certs.client.cert,
      suite.certs.client.key,
    );
    await roundTrip(await open(s.url, options));
  });

  it("without a client certificate is 'tls', not a hang", async () => {
    const s = await server(mtls());
    const error = await connectError(s.url, trusting());
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/client certificate/);
  });

  it("with a client certificate from an unknown CA is 'tls': refused", async () => {
    const s = await server(mtls());
    const options = trusting().addClientCertificate(
      suite.certs.otherClient.cert,
      suite.certs.otherClient.key,
    );
    const error = await connectError(s.url, options);
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/refused the client certificate/);
  });

  it('takes the client certificate from tlsClientConfig too', async () => {
    const s = await server(mtls());
    const [cert, key] = await Promise.all([
      readFile(suite.certs.client.cert),
      readFile(suite.certs.client.key),
    ]);
    await roundTrip(await open(s.url, trusting().tlsClientConfig({ cert, key })));
  });
});

describe('tlsFirst', () => {
  it('handshakes before INFO with a server that speaks TLS first (relay)', async () => {
    const plain = await server('');
    const relay = await startTlsRelay(plain, suite.certs.server);
    cleanups.push(() => relay.close());
    const client = await open(relay.url, trusting().tlsFirst());
    await roundTrip(client);
    expect(relay.handshakes).toBe(1);
  });

  it('a handshake the server never answers ends at connectionTimeout', async () => {
    // A listener that accepts and stays silent: neither INFO nor a TLS ServerHello comes.
    const silent = net.createServer(() => {});
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const { port } = silent.address() as net.AddressInfo;
    const started = performance.now();
    const error = await withTimeout(
      trusting()
        .tlsFirst()
        .connectionTimeout(300)
        .connect(`tls://127.0.0.1:${port}`)
        .then(
          (client) => {
            clients.push(client);
            throw new Error('expected connect to fail');
          },
          (e: NatsError) => e,
        ),
      5_000,
      'connect against a silent listener',
    );
    expect(error.kind).toBe('timedOut');
    expect(error.message).toMatch(/300 ms \(the TLS handshake did not finish\)/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("against a server that sends INFO in plaintext is 'tls', at once", async () => {
    const s = await server(tlsBlock(suite.certs.server));
    const error = await connectError(s.url, trusting().tlsFirst());
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/did not answer in TLS.*handshake_first/);
  });
});

describe('discovered servers', () => {
  it('verifies a server discovered by IP against the configured host name', async () => {
    // Certificates name only "localhost"; the cluster announces itself as 127.0.0.1.
    const [first, second] = await startCluster(2, {
      config: tlsBlock(suite.certs.serverLocalhostOnly),
    });
    cleanups.push(async () => {
      await Promise.all([first.stop(), second.stop()]);
    });
    const events = new EventLog();
    const client = await open(
      `tls://localhost:${first.port}`,
      trusting()
        .eventCallback(events.callback)
        .reconnectDelayCallback(() => 10),
    );
    expect(client.serverInfo().connectUrls).toContain(`127.0.0.1:${second.port}`);
    await first.stop();
    const disconnected = await events.next('disconnected');
    await events.next('connected', disconnected, 10_000);
    expect(client.serverInfo().port).toBe(second.port);
    const entry = client.serverPool().find((s) => s.url === `tls://127.0.0.1:${second.port}`);
    expect(entry?.isDiscovered).toBe(true);
    expect(entry?.didConnect).toBe(true);
    await roundTrip(client);
  });
});

describe('volume', () => {
  it('delivers 100,000 messages over TLS, complete and in order', async () => {
    const N = 100_000;
    const SIZE = 64;
    const s = await server(tlsBlock(suite.certs.server));
    const subscriber = await open(s.url, trusting());
    const publisher = await open(s.url, trusting());
    let received = 0;
    let firstProblem: string | undefined;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    subscriber.subscribe('tls.bulk', {
      callback: (msg) => {
        const seq = new DataView(msg.payload.buffer, msg.payload.byteOffset).getUint32(0, true);
        if (firstProblem === undefined && (seq !== received || msg.length !== SIZE)) {
          firstProblem = `message #${received}: seq ${seq}, length ${msg.length}`;
        }
        if (++received === N) resolveDone();
      },
    });
    await subscriber.flush();

    const payload = new Uint8Array(SIZE);
    const view = new DataView(payload.buffer);
    for (let i = 0; i < N; i++) {
      view.setUint32(0, i, true);
      if (!publisher.publish('tls.bulk', payload)) await publisher.writable();
    }
    await publisher.flush();
    await withTimeout(done, 30_000, `all ${N} messages (received ${received})`);
    await subscriber.flush(); // a duplicate would arrive before this PONG
    expect(firstProblem).toBeUndefined();
    expect(received).toBe(N);
    expect(publisher.statistics().outMessages).toBe(N);
    expect(subscriber.statistics().inMessages).toBe(N);
  }, 60_000);
});
