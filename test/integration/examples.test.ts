// Every program in examples/ runs against a real nats-server, as a user would run it (a fresh
// Node process, the URL on the command line), so that none of them can rot. Assertions are on
// what each prints and its exit code, never on time.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats-offload';
import { createUser } from 'nkeys.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts, type TestCerts, tlsBlock } from '../helpers/certs.js';
import { credsFile, makeTrustChain } from '../helpers/jwt.js';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_LIMIT_MS = 60_000;

interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();

/** Starts `examples/<name>.mjs`; `output` settles when it exits (killed past RUN_LIMIT_MS). */
function start(name: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [path.join(ROOT, 'examples', `${name}.mjs`), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  const output = once(child, 'close').then(([code]): Output => {
    clearTimeout(timer);
    live.delete(child);
    return { code: code as number | null, stdout, stderr };
  });
  return { child, output, stdout: () => stdout };
}

async function run(name: string, args: string[], env?: Record<string, string>): Promise<Output> {
  const result = await start(name, args, env).output;
  if (result.code !== 0) console.error(`${name} stderr:\n${result.stderr}`);
  return result;
}

let server: NatsServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const child of live) child.kill('SIGKILL');
});
afterAll(stopAll);

describe('examples against a plain server', () => {
  it('pub-sub prints the three greetings and exits', async () => {
    const { code, stdout } = await run('pub-sub', [server.url]);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      'greet.ada: hello ada',
      'greet.grace: hello grace',
      'greet.barbara: hello barbara',
    ]);
  });

  it('queue-groups delivers each job to one member of the group', async () => {
    const { code, stdout } = await run('queue-groups', [server.url]);
    expect(code).toBe(0);
    const [, a, b, total] =
      /a handled (\d+), member b handled (\d+), total (\d+)/.exec(stdout) ?? [];
    expect(Number(total)).toBe(20);
    expect(Number(a) + Number(b)).toBe(20);
  });

  it('request-reply gets the answer and a noResponders error', async () => {
    const { code, stdout } = await run('request-reply', [server.url]);
    expect(code).toBe(0);
    expect(stdout).toContain('double of 21 is 42');
    expect(stdout).toContain('math.nobody: noResponders');
  });

  it('headers round-trips single and repeated headers', async () => {
    const { code, stdout } = await run('headers', [server.url]);
    expect(code).toBe(0);
    expect(stdout).toContain('Trace-Id: abc123');
    expect(stdout).toContain('Tag: priority, gift');
    expect(stdout).toContain('order: 7');
  });

  it('reconnect-events shows the disconnect and the second connection', async () => {
    const { code, stdout } = await run('reconnect-events', [server.url]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/event: disconnected[\s\S]*event: connected/);
    expect(stdout).toContain('state: connected, connects: 2');
    expect(stdout).toContain('event: closed');
  });

  it('back-pressure publishes every message, waiting when told to', async () => {
    const { code, stdout } = await run('back-pressure', [server.url, '50000']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/published 50000 of 50000, waited \d+ times/);
  });

  it('worker-pool serves every request from the pool', async () => {
    const { code, stdout } = await run('worker-pool', [server.url, '2']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/30 requests served by [12] worker\(s\) of 2/);
  });

  it('drain-on-sigterm serves until SIGTERM, then drains and exits by itself', async () => {
    const service = start('drain-on-sigterm', [server.url]);
    const deadline = Date.now() + RUN_LIMIT_MS;
    while (!service.stdout().includes('ready') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const nc = await connect(server.url);
    try {
      expect((await nc.request('echo', 'ping')).string()).toBe('ping');
    } finally {
      await nc.close();
    }
    service.child.kill('SIGTERM');
    const { code, stdout } = await service.output;
    expect(code).toBe(0);
    expect(stdout).toContain('SIGTERM: draining');
    expect(stdout).toContain('drained after serving 1; nothing lost');
  });
});

describe('examples that need a configured server', () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await makeTestCerts();
  });
  afterAll(() => certs.remove());

  it('tls connects with the CA and a client certificate, and says why without one', async () => {
    const tlsServer = await startServer({
      config: tlsBlock(certs.server, { ca: certs.ca, verify: true }),
    });
    const url = `tls://127.0.0.1:${tlsServer.port}`;
    const mutual = await run('tls', [url], {
      NATS_CA: certs.ca,
      NATS_CERT: certs.client.cert,
      NATS_KEY: certs.client.key,
    });
    expect(mutual.code).toBe(0);
    expect(mutual.stdout).toContain('connected over TLS');

    const refused = await start('tls', [url], { NATS_CA: certs.ca }).output;
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('cannot connect: tls');
    await tlsServer.stop();
  });

  it('auth signs in with an NKey seed', async () => {
    const user = createUser();
    const nkeyServer = await startServer({
      config: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`,
    });
    const { code, stdout } = await run('auth', [nkeyServer.url], {
      NATS_NKEY_SEED: new TextDecoder().decode(user.getSeed()),
    });
    expect(code).toBe(0);
    expect(stdout).toContain('authenticated with nkey; state connected');
    await nkeyServer.stop();
  });

  it('auth signs in with a .creds file', async () => {
    const chain = makeTrustChain();
    const jwtServer = await startServer({ config: chain.config });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-creds-'));
    try {
      const creds = path.join(dir, 'user.creds');
      await writeFile(creds, credsFile(chain.user.jwt, chain.user.seed));
      const { code, stdout } = await run('auth', [jwtServer.url], { NATS_CREDS: creds });
      expect(code).toBe(0);
      expect(stdout).toContain('authenticated with creds; state connected');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await jwtServer.stop();
    }
  });
});
