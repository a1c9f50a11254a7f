/**
 * The main thread's rehearsal (src/main/warm-up.ts): after it, the publish and delivery paths
 * run optimized code before any real message, which unrehearsed they do not; and it touches no
 * server, leaves nothing running, and serves any number of clients connecting at once. Checked
 * in fresh Node processes (the rehearsal runs once per process), over the built code.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { freePort, type NatsServer, startServer } from '../helpers/nats-server.js';

const MAIN = fileURLToPath(new URL('../../dist/src/main/', import.meta.url));

/** V8's %GetOptimizationStatus bit for "runs optimized code" (runtime-test.cc). */
const OPTIMIZED = 1 << 4;

/**
 * Methods every rehearsal optimized in repeated runs (others may be inlined instead). The child
 * compiles where the code runs (--no-concurrent-recompilation): with V8's compiler thread,
 * whether a compile queued near the rehearsal's end is installed when the test reads the status
 * depends on the host's load (CI once read pub() unoptimized); compiled in place, a function is
 * optimized when its calls say so, which is what the rehearsal controls.
 */
const JIT_SCRIPT = (rehearse: boolean) => `
import { warmUp } from '${MAIN}warm-up.js';
import { Client } from '${MAIN}client.js';
import { Publisher } from '${MAIN}publisher.js';
import { Dispatcher } from '${MAIN}dispatcher.js';

const methods = [Client.prototype.publish, Publisher.prototype.pub, Dispatcher.prototype.dispatchRun];
${rehearse ? 'await warmUp();' : ''}
console.log(JSON.stringify(methods.map((method) => %GetOptimizationStatus(method) & ${OPTIMIZED})));
`;

async function optimized(rehearse: boolean): Promise<number[]> {
  const result = await runNodeScript(JIT_SCRIPT(rehearse), {
    nodeFlags: ['--allow-natives-syntax', '--no-concurrent-recompilation'],
  });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe('the main thread rehearses its hot paths once per process', () => {
  it('leaves publish() and the dispatcher running optimized code', async () => {
    expect(await optimized(false)).toEqual([0, 0, 0]);
    expect(await optimized(true)).toEqual([OPTIMIZED, OPTIMIZED, OPTIMIZED]);
  });

  describe('with a real server', () => {
    let server: NatsServer;
    let httpPort: number;

    beforeAll(async () => {
      httpPort = await freePort();
      server = await startServer({ config: `http: 127.0.0.1:${httpPort}` });
    });
    afterAll(() => server.stop());

    it('sends nothing, leaves nothing running, and serves clients connecting at once', async () => {
      const result = await runNodeScript(`
        import { connect } from 'nats-offload';
        const clients = await Promise.all([connect('${server.url}'), connect('${server.url}')]);
        const stats = clients.map((client) => client.statistics());
        let got = 0;
        clients[1].subscribe('after.rehearsal', { callback: () => got++ });
        await clients[1].flush();
        clients[0].publish('after.rehearsal', 'x');
        await clients[0].flush();
        while (got === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        await Promise.all(clients.map((client) => client.close()));
        console.log(JSON.stringify({ stats, got }));
      `);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0); // exited by itself: no handle left behind
      const { stats, got } = JSON.parse(result.stdout);
      for (const s of stats) {
        expect([s.inMessages, s.outMessages, s.droppedMessages]).toEqual([0, 0, 0]);
      }
      expect(got).toBe(1);
      const varz = (await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json()) as Record<
        string,
        number
      >;
      // The one message of the script: no rehearsal message reached the server.
      expect([varz.in_msgs, varz.out_msgs]).toEqual([1, 1]);
    });
  });
});
