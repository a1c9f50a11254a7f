// The built package as a user gets it: through package.json `exports`, from a separate Node
// process (the repository root imports the package by its own name).

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface PackageJson {
  name: string;
  type: string;
  main: string;
  types: string;
  exports: Record<string, { types: string; import: string }>;
}

const pkg = JSON.parse(
  readFileSync(new URL('package.json', pathToFileURL(ROOT)), 'utf8'),
) as PackageJson;

let server: NatsServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.stop();
  await stopAll();
});

describe('package.json', () => {
  it("exports['.'] points at built files that exist", () => {
    expect(pkg.name).toBe('nats-offload');
    expect(pkg.type).toBe('module');
    const root = pkg.exports['.'];
    expect(root.types).toMatch(/^\.\/dist\/.*\.d\.ts$/);
    expect(root.import).toMatch(/^\.\/dist\/.*\.js$/);
    for (const file of [root.types, root.import, pkg.main, pkg.types]) {
      expect(existsSync(new URL(file, pathToFileURL(ROOT))), file).toBe(true);
    }
    // The connection worker is loaded by path at runtime: it must be built beside the entry.
    expect(
      existsSync(new URL('../worker/entry.js', new URL(root.import, pathToFileURL(ROOT)))),
    ).toBe(true);
  });
});

describe('importing nats-offload by name', () => {
  it('resolves through exports to the built entry and provides the public API', async () => {
    const result = await runNodeScript(`
      import * as api from 'nats-offload';
      console.log(JSON.stringify({
        resolved: import.meta.resolve('nats-offload'),
        exports: Object.keys(api).sort(),
      }));
    `);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { resolved: string; exports: string[] };
    expect(out.resolved).toBe(new URL(pkg.exports['.'].import, pathToFileURL(ROOT)).href);
    for (const name of [
      'connect',
      'ConnectOptions',
      'HeaderMap',
      'NatsError',
      'Message',
      'Subscriber',
      'Client',
    ]) {
      expect(out.exports).toContain(name);
    }
  });

  it('does a publish/subscribe round trip in a child process and exits 0', async () => {
    const result = await runNodeScript(
      `
      import { connect, HeaderMap } from 'nats-offload';
      const client = await connect(${JSON.stringify(server.url)});
      const got = [];
      client.subscribe('pkg.round', { callback: (m) => got.push(m.string() + '|' + m.headers?.get('X-Via')) });
      await client.flush();
      client.publish('pkg.round', 'one');
      client.publishWithHeaders('pkg.round', HeaderMap.from({ 'X-Via': 'exports' }), 'two');
      await client.flush();
      await client.close();
      console.log(JSON.stringify(got));
      `,
      { timeoutMs: 10_000 },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(['one|undefined', 'two|exports']);
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
  });
});

describe('importing nats-offload/compat by name', () => {
  it('resolves through exports to the built file; nats.js errors come from the peer copy', async () => {
    const compat = pkg.exports['./compat'];
    for (const file of [compat.types, compat.import]) {
      expect(existsSync(new URL(file, pathToFileURL(ROOT))), file).toBe(true);
    }
    const result = await runNodeScript(
      `
      import { connect } from 'nats-offload';
      import { asNatsConnection } from 'nats-offload/compat';
      import { errors, RequestError } from '@nats-io/nats-core';
      const nc = asNatsConnection(await connect(${JSON.stringify(server.url)}));
      nc.subscribe('pkg.compat', { callback: (_err, m) => { m.respond('pong'); } });
      const reply = await nc.request('pkg.compat', 'ping', { timeout: 5000 });
      const missing = await nc.request('pkg.nobody', '', { timeout: 5000 }).catch((e) => e);
      await nc.close();
      console.log(JSON.stringify({
        resolved: import.meta.resolve('nats-offload/compat'),
        reply: reply.string(),
        noResponders: missing instanceof RequestError && missing.isNoResponders(),
        closed: (() => { try { nc.publish('x'); } catch (e) { return e instanceof errors.ClosedConnectionError; } })(),
      }));
      `,
      { timeoutMs: 10_000 },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      resolved: new URL(compat.import, pathToFileURL(ROOT)).href,
      reply: 'pong',
      noResponders: true,
      closed: true,
    });
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
  });
});

describe('Node flags of the process', () => {
  // Flags such as --max-old-space-size are process-wide: a Worker refuses them when they are
  // passed to it explicitly, yet a service may well run under them.
  const entry = JSON.stringify(new URL(pkg.exports['.'].import, pathToFileURL(ROOT)).href);
  const script = () => `
    import { connect } from ${entry};
    const client = await connect(${JSON.stringify(server.url)});
    let got = '';
    client.subscribe('pkg.flags', { callback: (m) => { got = m.string(); } });
    await client.flush();
    client.publish('pkg.flags', 'ok');
    await client.flush();
    await client.close();
    console.log(got);
  `;

  it('keeps the flags a worker accepts (a --require preload) beside refused ones, under -e', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-preload-'));
    try {
      const preload = path.join(dir, 'preload.cjs');
      await writeFile(
        preload,
        "if (!require('node:worker_threads').isMainThread) console.log('preloaded in a worker');",
      );
      const result = await runNodeScript(script(), {
        nodeFlags: ['--max-old-space-size=256', '--require', preload],
      });
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('preloaded in a worker');
      expect(result.stdout.trim().endsWith('ok')).toBe(true);
      expect(result.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  for (const asFile of [false, true]) {
    it(`start the connection worker under --max-old-space-size (${asFile ? 'module file' : '-e'})`, async () => {
      const result = await runNodeScript(script(), {
        asFile,
        nodeFlags: ['--max-old-space-size=256', '--stack-size=900'],
      });
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('ok');
      expect(result.code).toBe(0);
    });
  }
});
