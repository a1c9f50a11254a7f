// Runs an ES module in a fresh Node process, to prove things a test process cannot show about
// itself: that it exits on its own after close(), with no handle left behind.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ScriptResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** True when the process was still running at `timeoutMs` and was killed. */
  timedOut: boolean;
}

export interface RunOptions {
  /** Kill the process with SIGKILL after this long; default 10 s. */
  timeoutMs?: number;
  /** Working directory; default the repository root, so `import 'nats-offload'` finds dist/. */
  cwd?: string;
  /** Node flags before the script, e.g. `['--max-old-space-size=256']`. */
  nodeFlags?: string[];
  /**
   * Run the code from a module file instead of `--input-type=module -e`: the flags the
   * connection worker inherits differ (a file leaves nothing to filter out). Bare imports then
   * resolve from the file's temporary folder, so import the package by path.
   */
  asFile?: boolean;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Runs `code` as an ES module with this Node binary. Bare imports resolve from `cwd`, which is
 * how the default lets the script import the package by its own name.
 */
export async function runNodeScript(code: string, options: RunOptions = {}): Promise<ScriptResult> {
  if (!options.asFile) return run(['--input-type=module', '-e', code], options);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-script-'));
  try {
    const file = path.join(dir, 'script.mjs');
    await writeFile(file, code);
    return await run([file], options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(script: string[], options: RunOptions): Promise<ScriptResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...script], {
    cwd: options.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });

  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
    // A grandchild that inherited the pipes would hold 'close' back forever; stop waiting on them.
    child.stdout.destroy();
    child.stderr.destroy();
  }, timeoutMs);

  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        durationMs: performance.now() - started,
        timedOut,
      });
    });
  });
}
