// CPU per message by thread and process (bench/cpu-window.ts): each part counted where it was
// spent, the parts adding up, and a process that cannot be read reported as unknown, never as 0.
// Real threads and processes burn real CPU here; what is checked is where it lands, not how much.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { predictedRate, totalCost } from '../../bench/core-bound.js';
import { CpuWindow, cpuMetrics } from '../../bench/cpu-window.js';
import { threadIds } from '../../bench/proc-cpu.js';
import { SCENARIOS } from '../../bench/scenarios/index.js';

/** A fixed amount of work (~20 ms of one core here), whatever the host's load makes it take. */
const SPIN = 'let x = 0; for (let i = 0; i < 3e7; i++) x += i; globalThis.sink = x;';

function spin(): void {
  new Function(SPIN)();
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A process that spins once `go` is written to it, then says `done` and idles. */
async function spinner(): Promise<ChildProcess> {
  const script = `process.stdin.once('data', () => { ${SPIN} console.log('done'); }); console.log('ready');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  return child;
}

async function spinOnce(child: ChildProcess): Promise<void> {
  child.stdin?.write('go\n');
  await once(child.stdout as NodeJS.ReadableStream, 'data');
}

describe.runIf(process.platform === 'linux')('CpuWindow', () => {
  it('counts main, worker, other threads, server and peer where each spent it', async () => {
    const before = threadIds(process.pid);
    const worker = new Worker(
      `require('node:worker_threads').parentPort.on('message', () => { ${SPIN} require('node:worker_threads').parentPort.postMessage('done'); });`,
      { eval: true },
    );
    await once(worker, 'online');
    const workerTids = new Set(threadIds(process.pid).filter((tid) => !before.includes(tid)));
    const [server, peer] = await Promise.all([spinner(), spinner()]);
    try {
      const window = new CpuWindow({ serverPid: server.pid, workerTids }, [peer.pid ?? -1]);
      worker.postMessage('go');
      await Promise.all([once(worker, 'message'), spinOnce(server), spinOnce(peer)]);
      spin();
      const m = window.close(1000);
      for (const key of ['mainUsPerMsg', 'workerUsPerMsg', 'serverUsPerMsg', 'peerUsPerMsg']) {
        // ~20 ms of work over 1000 units is ~20 µs each; a part counted elsewhere reads ~0.
        expect(m[key], key).toBeGreaterThan(5);
      }
      expect(m.allUsPerMsg).toBeCloseTo(m.mainUsPerMsg + m.workerUsPerMsg + m.helpersUsPerMsg, 9);
      expect(m.totalUsPerMsg).toBeCloseTo(m.allUsPerMsg + m.serverUsPerMsg + m.peerUsPerMsg, 9);
      expect(m.coresBusy).toBeGreaterThan(0);
      for (const key of ['helpersUsPerMsg', 'hostCoresBusy', 'waitUsPerMsg', 'mainWaitUsPerMsg']) {
        expect(m[key], key).toBeGreaterThanOrEqual(0);
      }
    } finally {
      await worker.terminate();
    }
  });

  it('reads an unknown server and a peer gone before the end as NaN, not as 0', async () => {
    const peer = await spinner();
    const window = new CpuWindow({ workerTids: new Set() }, [peer.pid ?? -1]);
    peer.kill('SIGKILL');
    await once(peer, 'exit');
    const m = window.close(1000);
    for (const key of ['serverUsPerMsg', 'peerUsPerMsg', 'totalUsPerMsg', 'coresBusy']) {
      expect(m[key], key).toBeNaN();
    }
    expect(m.mainUsPerMsg).toBeGreaterThanOrEqual(0);
    expect(m.workerUsPerMsg).toBe(0);
  });
});

describe('CPU rows', () => {
  it('pub, pubsub, sub, request 100 in flight, burst and service carry them; a peer row where there is a peer', () => {
    const all = SCENARIOS.flatMap((s) => s.variants({ quick: false }));
    const keys = (unit: 'msg' | 'req', peer: boolean) => cpuMetrics(unit, peer).map((m) => m.key);
    const expected: [string, string[]][] = [
      ['pub-16', keys('msg', false)],
      ['pub-128', keys('msg', false)],
      ['pub-1024', keys('msg', false)],
      ['pub-16384', keys('msg', false)],
      ['pubsub', keys('msg', false)],
      ['pubsub-short', keys('msg', false)],
      ['sub', keys('msg', true)],
      ['sub-short', keys('msg', true)],
      ['reqrep-100', keys('req', true)],
      ['burst', keys('msg', true)],
      ['service', keys('msg', true)],
    ];
    for (const [id, cpu] of expected) {
      const metrics = all.find((v) => v.id === id)?.metrics.map((m) => m.key) ?? [];
      expect(metrics, id).toEqual(expect.arrayContaining(cpu));
    }
    expect(keys('msg', true)).toContain('peerUsPerMsg');
    expect(keys('msg', false)).not.toContain('peerUsPerMsg');
    expect(cpuMetrics('req', true).map((m) => m.label)).toContain('total CPU µs/req');
  });
});

describe('core-bound model', () => {
  const parts = { main: 0.2, worker: 0.1, helpers: 0.1, server: 0.3, peer: 0.1 };

  it('sums every part, helpers included', () => {
    expect(totalCost(parts)).toBeCloseTo(0.8, 12);
  });

  it('carries cores / total CPU per message until the heaviest thread alone is the limit', () => {
    expect(predictedRate(parts, 2)).toBeCloseTo(2.5e6, 3);
    // 4 cores would carry 5 M/s, but the 0.3 µs server thread carries 3.33 M/s at most.
    expect(predictedRate(parts, 4)).toBeCloseTo(1e6 / 0.3, 3);
    // Helpers spread over several threads: never the one bottleneck.
    expect(predictedRate({ ...parts, helpers: 0.5 }, 16)).toBeCloseTo(1e6 / 0.3, 3);
  });
});
