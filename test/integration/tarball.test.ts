// Acceptance of the published package: `npm pack`, installed into an empty project as a user
// would (offline-friendly: the dependencies come from the npm cache), then an example and the
// bench CLI run from there. nats.js is not installed in that project, so the bench shows that
// it measures nats-offload and the raw socket instead of failing on an import.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STEP_LIMIT_MS = 180_000;
const exec = promisify(execFile);

// `npm test` runs this file under npm, whose npm_* variables describe the repository's own
// package; the user's project must not see them.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !name.startsWith('npm_') || name === 'npm_config_cache',
  ),
);

/** Runs a command in `cwd`; resolves with its output whatever its exit code. */
async function sh(cwd: string, command: string, args: string[]) {
  try {
    const { stdout, stderr } = await exec(command, args, { cwd, env, timeout: STEP_LIMIT_MS });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** A number in the bench table (bench/report.ts formatValue): `39.0 k`, `1.23 M`, `4.99`. */
const VALUE = '(\\d+(?:\\.\\d+)?(?: [kM])?)';

function cellNumber(cell: string): number {
  const [digits, prefix] = cell.split(' ');
  return Number(digits) * (prefix === 'M' ? 1e6 : prefix === 'k' ? 1e3 : 1);
}

/**
 * A folder for the user's project with no node_modules above it: Node resolves packages up the
 * tree, and one there (another project's, say /tmp/node_modules) would give it nats.js.
 */
function isolatedBase(): string {
  const bases = [os.tmpdir(), '/var/tmp', os.homedir()];
  const clean = bases.find((base) => {
    for (let dir = path.resolve(base); ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'node_modules'))) return false;
      if (dir === path.dirname(dir)) return true;
    }
  });
  if (clean === undefined) throw new Error(`a node_modules above each of ${bases.join(', ')}`);
  return clean;
}

let server: NatsServer;
let project: string;

beforeAll(async () => {
  server = await startServer();
  project = await mkdtemp(path.join(isolatedBase(), 'nats-offload-user-'));
  const packed = await sh(ROOT, 'npm', ['pack', '--json', '--pack-destination', project]);
  expect(packed.code, packed.stderr).toBe(0);
  const [{ filename }] = JSON.parse(packed.stdout) as { filename: string }[];
  // The project already has another major of a package the bench can use: the package must
  // install beside it (the bench's optional packages are no peer dependencies of the client).
  const otherTinybench = path.join(project, 'other-tinybench');
  await mkdir(otherTinybench);
  await writeFile(
    path.join(otherTinybench, 'package.json'),
    JSON.stringify({ name: 'tinybench', version: '2.9.0', type: 'module', main: 'index.js' }),
  );
  await writeFile(path.join(otherTinybench, 'index.js'), 'export {};\n');
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({
      name: 'a-user-project',
      private: true,
      type: 'module',
      dependencies: { tinybench: 'file:./other-tinybench' },
    }),
  );
  const installed = await sh(project, 'npm', [
    'install',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    path.join(project, filename),
  ]);
  expect(installed.code, installed.stderr).toBe(0);
}, STEP_LIMIT_MS * 2);

afterAll(async () => {
  await stopAll();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('the packed tarball installed into an empty project', () => {
  it('installs with its types and runs a shipped example against a server', async () => {
    const manifest = JSON.parse(
      await readFile(path.join(project, 'node_modules/nats-offload/package.json'), 'utf8'),
    ) as { types: string };
    await expect(
      readFile(path.join(project, 'node_modules/nats-offload', manifest.types), 'utf8'),
    ).resolves.toContain('connect');

    // README's links to files of the repository resolve in the installed package too.
    const installed = path.join(project, 'node_modules/nats-offload');
    const readme = await readFile(path.join(installed, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(((?:docs|examples)\/[^)#\s]+)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(existsSync(path.join(installed, link)), link).toBe(true);
    // The bench ships (its bin is the demo); the repository's measuring tools do not.
    expect(existsSync(path.join(installed, 'dist/bench/cli.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'dist/bench/tools'))).toBe(false);

    const example = path.join(project, 'node_modules/nats-offload/examples/pub-sub.mjs');
    const run = await sh(project, process.execPath, [example, server.url]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('greet.barbara: hello barbara');
  });

  it('its types compile in a strict project without DOM types, library files checked too', async () => {
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          exactOptionalPropertyTypes: true,
          module: 'node16',
          moduleResolution: 'node16',
          lib: ['es2022'],
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules/@types')],
          skipLibCheck: false,
          noEmit: true,
        },
        files: ['uses-types.ts'],
      }),
    );
    await writeFile(
      path.join(project, 'uses-types.ts'),
      `import { Client, connect, ConnectOptions, HeaderMap, NatsError, type Event,
         type Message, type RequestManyOptions } from 'nats-offload';
       // API.md's Message shape, optional fields as it spells them.
       type Shape = { subject: string; reply?: string; payload: Uint8Array; headers?: HeaderMap;
         status?: number; description?: string; length: number };
       export async function use(url: string): Promise<void> {
         const client: Client = await connect(url, new ConnectOptions().name('typed'));
         const many: RequestManyOptions = { maxMessages: 2, maxWait: 100 };
         for await (const m of client.requestMany('x', 'y', many)) {
           const shape: Shape = m satisfies Message;
           console.log(shape.reply ?? '-');
         }
         const seen = (e: Event) => (e.type === 'clientError' ? e.error.kind : e.type);
         for await (const e of client.status()) console.log(seen(e), e instanceof NatsError);
       }
       // @ts-expect-error a Client comes from connect(), not from a constructor without arguments
       new Client();`,
    );
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const run = await sh(project, process.execPath, [tsc, '-p', 'tsconfig.json']);
    expect(run.stdout + run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  it('imports nats-offload by name from the project', async () => {
    const script = path.join(project, 'round-trip.mjs');
    await writeFile(
      script,
      `import { connect } from 'nats-offload';
       const nc = await connect(process.argv[2]);
       const reply = nc.subscribe('user.echo', { max: 1 });
       nc.publish('user.echo', 'from the tarball');
       for await (const m of reply) console.log(m.string());
       await nc.close();`,
    );
    const run = await sh(project, process.execPath, [script, server.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('from the tarball');
  });

  it('CommonJS code requires it (Node 20.19 and later load an ES module from require())', async () => {
    const script = path.join(project, 'round-trip.cjs');
    await writeFile(
      script,
      `const { connect, NatsError } = require('nats-offload');
       (async () => {
         const nc = await connect(process.argv[2]);
         const reply = nc.subscribe('user.cjs', { max: 1 });
         nc.publish('user.cjs', 'from require');
         for await (const m of reply) console.log(m.string(), typeof NatsError);
         await nc.close();
         require.resolve('nats-offload/package.json'); // tools that read a package's version
       })();`,
    );
    const run = await sh(project, process.execPath, [script, server.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('from require function');
  });

  it('npx nats-offload-bench --help prints the usage', async () => {
    const run = await sh(project, 'npx', ['--no-install', 'nats-offload-bench', '--help']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('usage: nats-offload-bench');
  });

  it(
    'npx nats-offload-bench --quick pub,micro measures nats-offload and the raw socket, saying what it leaves out',
    async () => {
      const run = await sh(project, 'npx', [
        '--no-install',
        'nats-offload-bench',
        'pub,micro',
        '--quick',
        '--size',
        '128',
        '--count',
        '5000',
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('nats.js (@nats-io/transport-node) is not installed');
      // The project's tinybench is an older major than the bench's micro scenario is written for.
      expect(run.stdout).toContain(
        'tinybench 2.9.0 is installed; the bench needs 6 or later: skipping micro',
      );
      // Columns: nats-offload, nats.js ('–': not measured), raw, ratio (none without
      // nats.js), × raw, better.
      for (const metric of ['msgs/s', 'MB/s']) {
        const row = new RegExp(
          `^pub 128 B +${metric} +${VALUE} +– +${VALUE} +${VALUE}× +higher ↑$`,
          'm',
        ).exec(run.stdout);
        expect(row, `the ${metric} row in:\n${run.stdout}`).not.toBeNull();
        const [ours, raw, timesRaw] = (row as RegExpExecArray).slice(1).map(cellNumber);
        expect(ours, `nats-offload ${metric}`).toBeGreaterThan(0);
        expect(raw, `raw ${metric}`).toBeGreaterThan(0);
        expect(timesRaw, `× raw ${metric}`).toBeGreaterThan(0);
      }
      expect(run.stdout).toContain(`results: ${path.join(project, 'bench', 'results')}`);
    },
    STEP_LIMIT_MS,
  );
});
