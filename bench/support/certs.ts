// Certificates for the bench's TLS variants and the TLS tests, made at run time by the openssl CLI in a temp dir: a CA, server
// certificates (one for 127.0.0.1 + localhost, one for localhost only, one expired), a client
// certificate, and a second, unrelated CA with a client certificate of its own. EC P-256 keys
// keep generation fast (well under a second for the whole set). Call remove() when done.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key, as file paths. */
export interface CertPair {
  cert: string;
  key: string;
}

export interface TestCerts {
  dir: string;
  /** The CA that signed every certificate below except `otherClient`. */
  ca: string;
  /** A CA unrelated to everything else (signed `otherClient` only). */
  otherCa: string;
  /** Server certificate for IP 127.0.0.1 and DNS localhost. */
  server: CertPair;
  /** Server certificate for DNS localhost only (no IP SAN): wrong host when dialled by IP. */
  serverLocalhostOnly: CertPair;
  /** Server certificate for 127.0.0.1 + localhost whose validity ended before it began. */
  serverExpired: CertPair;
  /** Client certificate (clientAuth) signed by `ca`. */
  client: CertPair;
  /** Client certificate signed by `otherCa`: a server trusting `ca` refuses it. */
  otherClient: CertPair;
  /** Deletes `dir`. Safe to call more than once. */
  remove(): Promise<void>;
}

/** Fails with a clear message when openssl is missing (apt-get install -y openssl). */
async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const hint = e.code === 'ENOENT' ? ' (not on PATH? apt-get install -y openssl)' : '';
    throw new Error(`openssl ${args[0]} failed${hint}: ${e.stderr ?? e.message}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<CertPair> {
  const pair = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  await openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-days',
    '2',
    '-subj',
    `/CN=nats-offload test ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair;
}

let serial = 1;

/** A leaf signed by `ca`; `extensions` go to an -extfile; `days` may be negative (expired). */
async function makeLeaf(
  dir: string,
  name: string,
  ca: CertPair,
  extensions: string[],
  days = 2,
): Promise<CertPair> {
  const pair = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  await openssl(dir, ['req', ...EC, '-keyout', pair.key, '-out', csr, '-subj', `/CN=${name}`]);
  await writeFile(ext, `${['basicConstraints=CA:FALSE', ...extensions].join('\n')}\n`);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    String(serial++),
    '-days',
    String(days),
    '-extfile',
    ext,
    '-out',
    pair.cert,
  ]);
  return pair;
}

/** Generates the whole set in a fresh temp dir. */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-certs-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const [ca, otherCa] = await Promise.all([makeCa(dir, 'ca'), makeCa(dir, 'other-ca')]);
    const serverExt = ['extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost'];
    const [server, serverLocalhostOnly, serverExpired, client, otherClient] = await Promise.all([
      makeLeaf(dir, 'server', ca, serverExt),
      makeLeaf(dir, 'server-localhost', ca, [
        'extendedKeyUsage=serverAuth',
        'subjectAltName=DNS:localhost',
      ]),
      makeLeaf(dir, 'server-expired', ca, serverExt, -1),
      makeLeaf(dir, 'client', ca, ['extendedKeyUsage=clientAuth']),
      makeLeaf(dir, 'other-client', otherCa, ['extendedKeyUsage=clientAuth']),
    ]);
    return {
      dir,
      ca: ca.cert,
      otherCa: otherCa.cert,
      server,
      serverLocalhostOnly,
      serverExpired,
      client,
      otherClient,
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** A nats-server `tls { }` block serving `pair`; `verify` asks for a client cert signed by `ca`. */
export function tlsBlock(pair: CertPair, options: { ca?: string; verify?: boolean } = {}): string {
  const lines = ['tls {', `  cert_file: "${pair.cert}"`, `  key_file: "${pair.key}"`];
  if (options.ca) lines.push(`  ca_file: "${options.ca}"`);
  if (options.verify) lines.push('  verify: true');
  lines.push('  timeout: 2', '}');
  return lines.join('\n');
}
