// When the Publisher makes committed frames visible to the worker (publishes W): at the
// microtask tail, and before it every 64 frames while the worker is awake (it takes them as
// the caller goes on) but only every 1024 while it sleeps, so what many replies' continuations
// publish (requests, or answers) reaches the socket in one batch, as a single-threaded client
// would write it.

import { describe, expect, it } from 'vitest';
import { Publisher } from '../../src/main/publisher.js';
import { decodeCommand } from '../../src/shared/frames/command.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';

const PAYLOAD = new Uint8Array(128);

/** A publisher and the worker's side of its ring; `asleep`: the worker waits for W. */
function pair(asleep: boolean): { publisher: Publisher; worker: RingConsumer } {
  const buffers = createRingBuffers(4 * 1024 * 1024);
  const worker = new RingConsumer(buffers);
  if (asleep) expect(worker.waitForData()).toBeInstanceOf(Promise);
  return { publisher: new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30), worker };
}

/** Messages the worker can see now (published and not yet taken), taking them. */
function visible(worker: RingConsumer): number {
  let messages = 0;
  for (let off = worker.next(); off >= 0; off = worker.next()) {
    const cmd = decodeCommand(worker.bytes, off, worker.length);
    if (cmd.kind === 'pub') messages += cmd.count;
    worker.advance();
  }
  worker.release();
  return messages;
}

function request(publisher: Publisher, id: number): void {
  const reply = `_INBOX.abc.${id}`;
  publisher.pub('svc', 3, reply, reply.length, PAYLOAD, false);
}

function answer(publisher: Publisher, id: number): void {
  const to = `_INBOX.abc.${id}`;
  publisher.pub(to, to.length, undefined, 0, PAYLOAD, false);
}

/** Runs `step(i)` for i < n, each in a continuation of its own, as replies' awaits resume. */
async function inContinuations(n: number, step: (i: number) => void): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      Promise.resolve()
        .then(() => undefined)
        .then(() => step(i)),
    ),
  );
}

describe('Publisher: when W is published', () => {
  for (const [kind, publish] of [
    ['requests', request],
    ['answers', answer],
  ] as const) {
    it(`publishes the ${kind} of 100 continuations together at the tail while the worker sleeps`, async () => {
      const { publisher, worker } = pair(true);
      const seen: number[] = [];
      await inContinuations(100, (i) => {
        publish(publisher, i);
        seen.push(visible(worker));
      });
      // None was visible while the continuations ran; all of them are once they have.
      expect(seen.filter((n) => n > 0)).toEqual([]);
      expect(visible(worker)).toBe(100);
    });
  }

  it('publishes a synchronous run every 1024 while the worker sleeps, and the rest at the tail', async () => {
    const { publisher, worker } = pair(true);
    const seen: number[] = [];
    for (let i = 0; i < 2500; i++) {
      request(publisher, i);
      seen.push(visible(worker));
    }
    expect(seen.filter((n) => n > 0)).toEqual([1024, 1024]);
    await Promise.resolve();
    expect(visible(worker)).toBe(2500 - 2048);
  });

  it('publishes every 64 while the worker is awake', async () => {
    const { publisher, worker } = pair(false);
    const seen: number[] = [];
    await inContinuations(100, (i) => {
      request(publisher, i);
      seen.push(visible(worker));
    });
    expect(seen.filter((n) => n > 0)).toEqual([64]);
    expect(visible(worker)).toBe(36);
  });
});
