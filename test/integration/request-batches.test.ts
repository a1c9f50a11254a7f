// Requests are made visible to the worker in batches (publisher.ts: at the microtask tail, or
// every 1024 requests): whatever the batch,
// every request reaches the server and is answered —
// a lone one with nothing else published, a synchronous run of several batches, and requests
// made from replies' continuations while other batches are on their way.

import { type Client, ConnectOptions } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { fileServer } from '../helpers/file-server.js';

const file = fileServer();

/** A requester, and an echo responder on a connection of its own. */
async function requesterAndResponder(subject: string): Promise<Client> {
  const responder = file.keep(await new ConnectOptions().connect(file.server.url));
  responder.subscribe(subject, {
    callback: (m) => m.reply && responder.publish(m.reply, m.payload),
  });
  await responder.flush();
  return file.keep(await new ConnectOptions().connect(file.server.url));
}

describe('requests in batches', () => {
  it('answers a lone request when nothing else is published', async () => {
    const c = await requesterAndResponder('batch.lone');
    for (let i = 0; i < 3; i++) {
      // Each request alone: the previous one's reply has come and nothing else is pending.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await c.request('batch.lone', `q${i}`)).string()).toBe(`q${i}`);
    }
  });

  it('answers a synchronous run of requests that spans several batches', async () => {
    const c = await requesterAndResponder('batch.run');
    const replies = await Promise.all(
      Array.from({ length: 2500 }, (_, i) => c.request('batch.run', String(i))),
    );
    expect(replies.map((m) => Number(m.string()))).toEqual(
      Array.from({ length: 2500 }, (_, i) => i),
    );
  });

  it('answers requests made from replies while other batches are in flight', async () => {
    const c = await requesterAndResponder('batch.chain');
    const total = 3000;
    let issued = 0;
    const answers: number[] = [];
    // 100 chains, each making its next request in the continuation of a reply …
    const chain = async (): Promise<void> => {
      while (issued < total) {
        const i = issued++;
        answers.push(Number((await c.request('batch.chain', String(i))).string()));
      }
    };
    // … and lone requests from timers meanwhile, landing between those batches.
    const lone: Promise<string>[] = [];
    const timer = setInterval(() => {
      lone.push(c.request('batch.chain', `lone${lone.length}`).then((m) => m.string()));
    }, 1);
    await Promise.all(Array.from({ length: 100 }, chain));
    clearInterval(timer);
    expect(answers.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(await Promise.all(lone)).toEqual(lone.map((_, i) => `lone${i}`));
  });
});
