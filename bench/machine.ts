/** What a result file records about where and from what it was measured. */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startServer } from '../test/helpers/nats-server.js';
import { rawInfo } from './peers/raw.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Environment {
  machine: {
    cpuModel: string;
    cpuCount: number;
    memoryBytes: number;
    /** 1, 5 and 15 minute load averages when the run started: other work skews every number. */
    loadAverage: number[];
    os: { platform: string; release: string; arch: string };
  };
  node: string;
  natsServer: { version: string; url: string };
  natsJs: string;
  git: { commit: string | null; dirty: boolean | null };
}

/**
 * Describes the run. Without a URL it starts (and stops) one local nats-server to read its
 * version, which also proves nats-server can start before any measurement is attempted.
 */
export async function environment(url: string | undefined): Promise<Environment> {
  if (!url) requireNatsServer();
  const server = url ? undefined : await startServer();
  let version: string;
  try {
    version = String((await rawInfo(url ?? server?.url ?? '')).version ?? 'unknown');
  } finally {
    await server?.stop();
  }
  const cpus = os.cpus();
  const natsJs = createRequire(import.meta.url)('@nats-io/transport-node/package.json') as {
    version: string;
  };
  return {
    machine: {
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      cpuCount: cpus.length,
      memoryBytes: os.totalmem(),
      loadAverage: os.loadavg(),
      os: { platform: os.platform(), release: os.release(), arch: os.arch() },
    },
    node: process.version,
    natsServer: { version, url: url ?? 'local nats-server per measurement' },
    natsJs: natsJs.version,
    git: gitState(),
  };
}

/** Fails with advice when nats-server is not on PATH (the server launcher would crash instead). */
function requireNatsServer(): void {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new Error(
      'nats-server is not on PATH: install it (apt-get install -y nats-server, or a release from ' +
        'https://github.com/nats-io/nats-server/releases), or pass --url',
    );
  }
}

function gitState(): Environment['git'] {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  try {
    return {
      commit: git('rev-parse', 'HEAD').trim(),
      dirty: git('status', '--porcelain', '--untracked-files=no').trim() !== '',
    };
  } catch {
    return { commit: null, dirty: null }; // not a git checkout (e.g. an unpacked tarball)
  }
}
