// This thread busy past a deadline (a synchronous stretch of the application's own work): what
// the worker received before the deadline counts as arrived. A timeout is decided only once the
// delivery ring has been dispatched up to where it stood when the timer ran, so a reply, a
// message or a flush's acknowledgement that came in time is not lost to its own timeout.

import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Client, ConnectOptions } from 'nats-offload';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { type NatsServer, startServer } from '../helpers/nats-server.js';

/** The bench's raw-socket responder, in a process of its own: it answers while we are busy. */
const RESPONDER = fileURLToPath(new URL('../../dist/bench/peers/responder.js', import.meta.url));
const BUSY_MS = 800;
const TIMEOUT_MS = 200;

let server: NatsServer;
let responder: ChildProcess;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startServer();
  responder = fork(RESPONDER, [server.url, 'echo'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
  await once(responder, 'message'); // 'ready': its subscription is registered
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

afterAll(async () => {
  responder.kill();
  await server.stop();
});

async function client(): Promise<Client> {
  const c = await new ConnectOptions().requestTimeout(TIMEOUT_MS).connect(server.url);
  clients.push(c);
  await c.request('echo', 'warm'); // the shared inbox is subscribed, the path compiled
  return c;
}

/**
 * Lets this thread's microtasks run (the worker is told of what was just published at their
 * end), then keeps the thread busy: no timer, no I/O and no dispatch run meanwhile.
 */
async function busyAfterSending(): Promise<void> {
  await Promise.resolve();
  const end = performance.now() + BUSY_MS;
  while (performance.now() < end) {}
}

describe('this thread busy past a timeout, the answer having come in time', () => {
  it('a request resolves with its reply', async () => {
    const c = await client();
    const reply = c.request('echo', 'x');
    await busyAfterSending();
    expect((await reply).string()).toBe('x');
  });

  it('subscribe({ timeout }) delivers the message and does not end', async () => {
    const c = await client();
    const inbox = c.newInbox();
    const sub = c.subscribe(inbox, { timeout: TIMEOUT_MS });
    c.publishWithReply('echo', inbox, 'y');
    await busyAfterSending();
    for await (const msg of sub) {
      expect(msg.string()).toBe('y');
      break;
    }
  });

  it("requestMany's maxWait gathers the reply", async () => {
    const c = await client();
    const replies = c.requestMany('echo', 'z', { maxWait: TIMEOUT_MS });
    await busyAfterSending();
    const got: string[] = [];
    for await (const msg of replies) got.push(msg.string());
    expect(got).toEqual(['z']);
  });

  it('a flush resolves with its acknowledgement', async () => {
    const c = await client();
    const flushed = c.flush();
    await busyAfterSending();
    await expect(flushed).resolves.toBeUndefined();
  });
});

describe('this thread busy past a timeout, nothing having come', () => {
  it('a request and subscribe({ timeout }) still time out once the thread is free', async () => {
    const c = await client();
    c.subscribe('silent', { callback: () => {} }); // subscribed: no 503, and no reply
    await c.flush();
    const reply = c.request('silent', 'x');
    const sub = c.subscribe(c.newInbox(), { timeout: TIMEOUT_MS });
    await busyAfterSending();
    await expect(reply).rejects.toMatchObject({ kind: 'timedOut' });
    expect((await sub.closed)?.kind).toBe('timedOut');
  });
});

describe('a timeout behind a backlog of deliveries', () => {
  /** Another client of this process publishes `count` messages to `subject`. */
  async function flood(subject: string, count: number): Promise<Client> {
    const publisher = await new ConnectOptions().connect(server.url);
    clients.push(publisher);
    publisher.subscribe('silent', { callback: () => {} }); // no 503 for requests to it, no reply
    await publisher.flush();
    const payload = new Uint8Array(128);
    for (let i = 0; i < count; i++) {
      if (!publisher.publish(subject, payload)) await publisher.writable();
    }
    await publisher.flush();
    return publisher;
  }

  it('behind slow callbacks, fires about when it should, not when the backlog is through', async () => {
    const c = await client();
    c.subscribe('flood', {
      callback: () => {
        const end = performance.now() + 0.2;
        while (performance.now() < end) {}
      },
    });
    await c.flush();
    await flood('flood', 30_000); // ~6 s of callbacks
    const started = performance.now();
    await expect(c.request('silent', 'x')).rejects.toMatchObject({ kind: 'timedOut' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('behind an iterator read one message per turn, a reply is not held to its pace', async () => {
    const c = await new ConnectOptions().subscriptionCapacity(10).connect(server.url);
    clients.push(c);
    const nibbled = c.subscribe('flood');
    const reading = (async () => {
      for await (const _ of nibbled) await new Promise((resolve) => setImmediate(resolve));
    })();
    await c.flush();
    await flood('flood', 100_000);
    const started = performance.now();
    expect((await c.sendRequest('echo', { payload: 'x', timeout: 20_000 })).string()).toBe('x');
    expect(performance.now() - started).toBeLessThan(2_500);
    await nibbled.unsubscribe();
    await reading;
  });
});

describe("requestMany's stall, this thread busy while replies keep coming", () => {
  it('is restarted by the replies that came meanwhile: every reply is gathered', async () => {
    const c = await client();
    const ready = c.subscribe('spread.ready', { max: 1 });
    // A responder in another process: ten replies 60 ms apart to one request.
    const responder = runNodeScript(
      `import { connect } from 'nats-offload';
       const c = await connect(${JSON.stringify(server.url)});
       const sub = c.subscribe('spread', { max: 1 });
       await c.flush();
       c.publish('spread.ready');
       for await (const m of sub) {
         for (let i = 0; i < 10; i++) {
           m.respond(String(i));
           await c.flush();
           await new Promise((r) => setTimeout(r, 60));
         }
       }
       await c.close();`,
      { timeoutMs: 20_000 },
    );
    for await (const _ of ready) break;
    const got: string[] = [];
    let busy = true;
    for await (const msg of c.requestMany('spread', '', { stall: 150, maxWait: 10_000 })) {
      got.push(msg.string());
      if (busy) {
        busy = false;
        const end = performance.now() + 400;
        while (performance.now() < end) {}
      }
    }
    await responder;
    expect(got).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});
