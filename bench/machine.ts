/** What a result file records about where and from what it was measured. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATS_JS_PACKAGE } from './optional.js';
import { rawInfo } from './peers/raw.js';
import { startServer } from './support/nats-server.js';

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
  /** null when nats.js is not installed (the published bench does without it). */
  natsJs: string | null;
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
    natsJs: natsJsVersion(),
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

function natsJsVersion(): string | null {
  try {
    const manifest = createRequire(import.meta.url)(`${NATS_JS_PACKAGE}/package.json`);
    return (manifest as { version: string }).version;
  } catch {
    return null;
  }
}

function gitState(): Environment['git'] {
  // Installed under node_modules, the bench is no checkout even inside the user's own repository.
  if (!existsSync(join(REPO_ROOT, '.git'))) return { commit: null, dirty: null };
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
    return { commit: null, dirty: null }; // no git on PATH
  }
}
