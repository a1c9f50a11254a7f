// Runs an ES module in a fresh Node process, to prove things a test process cannot show about
// itself: that it exits on its own after close(), with no handle left behind.

import { spawn } from 'node:child_process';
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
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Runs `code` as an ES module with this Node binary. Bare imports resolve from `cwd`, which is
 * how the default lets the script import the package by its own name.
 */
export function runNodeScript(code: string, options: RunOptions = {}): Promise<ScriptResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
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
