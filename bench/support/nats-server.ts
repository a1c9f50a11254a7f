// Real nats-server processes for the bench and the integration tests (shipped with the bench,
// which starts its own servers): one per call, each with its own temp dir, config file and log,
// on loopback ports picked free at start. Nothing global is registered;
// call stop() per server, or stopAll() from an afterAll as a safety net.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface NatsServer {
  url: string;
  port: number;
  host: string;
  /** Current process id; changes after restart(). */
  pid: number;
  dir: string;
  configPath: string;
  /** Combined stdout/stderr of every run of this server, for printing when a test fails. */
  logPath: string;
  /** Monitoring port; set for cluster members, whose readiness is read from `/routez`. */
  httpPort?: number;
  /** Stops the process, waits for it to exit and removes `dir`. Safe to call more than once. */
  stop(): Promise<void>;
  /** Stops the process and starts it again with the same config, port and dir. */
  restart?(): Promise<void>;
}

export interface StartOptions {
  /** Extra nats-server config text, appended after the generated `listen` line. */
  config?: string;
  /** Client port; picked free when omitted. */
  port?: number;
  /** Turns on the server's debug and protocol trace logging (written to `logPath`). */
  debug?: boolean;
}

const HOST = '127.0.0.1';
const BINARY = 'nats-server';
const READY_TIMEOUT_MS = 10_000;
const KILL_AFTER_MS = 3_000;
const LOG_TAIL_BYTES = 4_096;
// A freshly picked port can be taken by another process before nats-server binds it (test
// files run in parallel); only then is a start retried, with new ports.
const BIND_ATTEMPTS = 3;

interface ServerFiles {
  dir: string;
  configPath: string;
  logPath: string;
}

const running = new Set<NatsServer>();
/** Starts under way (startServer, startCluster): stopAll() waits for them. */
const starting = new Set<Promise<unknown>>();

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/** Starts one nats-server on loopback and resolves once it has sent a client its INFO line. */
export async function startServer(options: StartOptions = {}): Promise<NatsServer> {
  return withBindRetry(options.port === undefined, async () => {
    const port = options.port ?? (await freePort());
    return launch(port, configText(port, options));
  });
}

/**
 * Starts `n` nats-servers routed to each other and resolves once every server reports a route
 * to each of the others. `options.config` is appended to every member's config.
 */
export async function startCluster(
  n = 3,
  options: Omit<StartOptions, 'port'> = {},
): Promise<NatsServer[]> {
  return withBindRetry(true, async () => {
    // All 3n ports come from listeners held open together, so they are distinct.
    const ports = await freePorts(3 * n);
    const clientPorts = ports.slice(0, n);
    const clusterPorts = ports.slice(n, 2 * n);
    const httpPorts = ports.slice(2 * n);
    const servers: NatsServer[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const routes = clusterPorts
          .filter((_, j) => j !== i)
          .map((p) => `nats-route://${HOST}:${p}`)
          .join(', ');
        const clusterText = [
          `server_name: node-${i}`,
          `http: ${HOST}:${httpPorts[i]}`,
          'cluster {',
          '  name: nats-offload-test',
          `  listen: ${HOST}:${clusterPorts[i]}`,
          `  routes: [ ${routes} ]`,
          '}',
        ].join('\n');
        const server = await launch(
          clientPorts[i],
          configText(clientPorts[i], options, clusterText),
        );
        server.httpPort = httpPorts[i];
        servers.push(server);
      }
      await Promise.all(servers.map((s) => waitForRoutes(s, n - 1)));
      return servers;
    } catch (err) {
      await Promise.all(servers.map((s) => s.stop()));
      throw err;
    }
  });
}

/**
 * Stops every server this process started and has not stopped yet, including those still
 * starting when it is called (e.g. the bench CLI interrupted between two measurements).
 */
export async function stopAll(): Promise<void> {
  while (starting.size > 0) await Promise.allSettled([...starting]);
  await Promise.all([...running].map((s) => s.stop()));
}

function configText(port: number, options: StartOptions, generated = ''): string {
  const lines = [`listen: ${HOST}:${port}`];
  if (generated) lines.push(generated);
  // Trace too: a failing client test is usually explained by the protocol lines, not debug.
  if (options.debug) lines.push('debug: true', 'trace: true');
  if (options.config) lines.push(options.config);
  return `${lines.join('\n')}\n`;
}

async function launch(port: number, config: string): Promise<NatsServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-server-'));
  const files: ServerFiles = {
    dir,
    configPath: path.join(dir, 'nats-server.conf'),
    logPath: path.join(dir, 'nats-server.log'),
  };
  let child: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;

  const server: NatsServer = {
    url: `nats://${HOST}:${port}`,
    port,
    host: HOST,
    get pid(): number {
      return child?.pid ?? -1;
    },
    ...files,
    stop() {
      stopping ??= (async () => {
        running.delete(server);
        if (child) await terminate(child);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
    async restart() {
      if (stopping) throw new Error(`nats-server ${server.url} was stopped; cannot restart it`);
      if (child) await terminate(child);
      child = await spawnReady(files, port);
    },
  };

  try {
    await writeFile(files.configPath, config);
    child = await spawnReady(files, port);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  running.add(server);
  return server;
}

// Spawns the server with its output appended to logPath and resolves once it has written its
// ports file and a client connecting to `port` is greeted with INFO; kills the process and
// rejects with the config and log tail otherwise.
async function spawnReady(files: ServerFiles, port: number): Promise<ChildProcess> {
  const log = await open(files.logPath, 'a');
  let child: ChildProcess;
  let exited: Promise<never>;
  try {
    // The child writes straight to the file: no pipes for this process to drain or keep open.
    // The ports file proves that this process bound the port, not some other server on it.
    child = spawn(BINARY, ['-c', files.configPath, '--ports_file_dir', files.dir], {
      stdio: ['ignore', log.fd, log.fd],
    });
    // Listen before anything awaits: a missing binary emits 'error' on the next tick, and an
    // 'error' event without a listener would crash the process.
    exited = new Promise<never>((_, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'ENOENT' ? ' (not on PATH? apt-get install -y nats-server)' : '';
        reject(new Error(`cannot spawn ${BINARY}${hint}`, { cause: err }));
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`${BINARY} exited during start-up (code ${code}, signal ${signal})`));
      });
    });
    // Handled below by the race; after a successful start a later exit is nobody's concern.
    exited.catch(() => {});
  } finally {
    await log.close();
  }

  const startUp = new AbortController();

  const ready = async () => (await boundPort(files.dir, child.pid, port)) && receivesInfo(port);
  try {
    await Promise.race([exited, pollUntil(Date.now() + READY_TIMEOUT_MS, ready, startUp.signal)]);
    return child;
  } catch (err) {
    await terminate(child);
    const reason = err instanceof Error ? err.message : String(err);
    const config = await readFile(files.configPath, 'utf8').catch(() => '(unreadable)');
    const tail = await logTail(files.logPath);
    throw new Error(`${reason}\n--- config ---\n${config}--- log tail ---\n${tail}`, {
      cause: err,
    });
  } finally {
    startUp.abort();
  }
}

// True once the server with `pid` has written its ports file listing `port`.
async function boundPort(dir: string, pid: number | undefined, port: number): Promise<boolean> {
  const name = (await readdir(dir)).find((f) => f.endsWith(`_${pid}.ports`));
  if (name === undefined) return false;
  const ports = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { nats?: string[] };
  return ports.nats?.some((url) => url.endsWith(`:${port}`)) ?? false;
}

/** The WebSocket URL of a server whose config has a `websocket` block (from its ports file). */
export async function websocketUrl(server: NatsServer): Promise<string> {
  const name = (await readdir(server.dir)).find((f) => f.endsWith(`_${server.pid}.ports`));
  if (name === undefined) throw new Error(`${server.url} wrote no ports file`);
  const ports = JSON.parse(await readFile(path.join(server.dir, name), 'utf8')) as {
    websocket?: string[];
  };
  const url = ports.websocket?.[0];
  if (url === undefined) throw new Error(`${server.url} has no websocket listener`);
  return url;
}

// SIGTERM, then SIGKILL if the process is still there after KILL_AFTER_MS.
async function terminate(child: ChildProcess): Promise<void> {
  // No pid: the spawn itself failed, so there is no process and no 'exit' event to wait for.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exit = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  try {
    await exit;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForRoutes(server: NatsServer, peers: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    await pollUntil(deadline, async () => {
      const routez = (await getJson(`http://${HOST}:${server.httpPort}/routez`)) as {
        routes?: { remote_id: string }[];
      };
      // Two servers may briefly hold duplicate routes to each other; count distinct peers.
      return new Set(routez.routes?.map((r) => r.remote_id)).size >= peers;
    });
  } catch (err) {
    const tail = await logTail(server.logPath);
    throw new Error(`${server.url} did not route to ${peers} peers; log tail:\n${tail}`, {
      cause: err,
    });
  }
}

// Calls `check` with a short, growing backoff until it returns true or the deadline passes.
// A check that throws counts as "not yet" (e.g. connection refused while the server starts).
// `signal` ends the polling early, once the caller no longer cares about the answer.
async function pollUntil(
  deadline: number,
  check: () => Promise<boolean>,
  signal?: AbortSignal,
): Promise<void> {
  let delay = 10;
  let lastError: unknown;
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
  }
  throw new Error('timed out waiting for nats-server', { cause: lastError });
}

// Connects as a raw client and resolves true once the first line received is an INFO.
function receivesInfo(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let received = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('no INFO within 1 s')));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n');
      if (end === -1) return;
      socket.destroy();
      resolve(received.startsWith('INFO '));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before INFO')));
  });
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 1_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.once('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        else resolve(JSON.parse(body));
      });
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.once('error', reject);
  });
}

// Holds all listeners open until every port is known, so one call never returns a port twice.
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      server.listen(0, HOST);
      await once(server, 'listening');
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/**
 * Runs a start, again (with `retry`) when another process took its port first, and keeps it in
 * `starting` until it settles.
 */
function withBindRetry<T>(retry: boolean, attempt: () => Promise<T>): Promise<T> {
  const start = (async () => {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        const lostRace = err instanceof Error && err.message.includes('address already in use');
        if (!retry || !lostRace || i >= BIND_ATTEMPTS) throw err;
      }
    }
  })();
  starting.add(start);
  const settled = () => starting.delete(start);
  start.then(settled, settled);
  return start;
}

async function logTail(logPath: string): Promise<string> {
  try {
    const text = await readFile(logPath, 'utf8');
    return text.slice(-LOG_TAIL_BYTES);
  } catch {
    return '(no log)';
  }
}
