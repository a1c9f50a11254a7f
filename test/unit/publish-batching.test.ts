// When the Publisher makes committed frames visible to the worker (publishes W): plain
// publishes every 64 frames and at the microtask tail; requests (a reply subject) only at the
// tail or every 1024, so the requests that many replies' continuations make reach the socket
// in one batch, as a single-threaded client would write them.

import { describe, expect, it } from 'vitest';
import { Publisher } from '../../src/main/publisher.js';
import { decodeCommand } from '../../src/shared/frames/command.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';

const PAYLOAD = new Uint8Array(128);

function pair(): { publisher: Publisher; worker: RingConsumer } {
  const buffers = createRingBuffers(4 * 1024 * 1024);
  return {
    publisher: new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30),
    worker: new RingConsumer(buffers),
  };
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

function request(publisher: Publisher, token: number): void {
  const reply = `_INBOX.abc.${token}`;
  publisher.pub('svc', 3, reply, reply.length, PAYLOAD, false);
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
  it('publishes the requests of 100 continuations together, at the microtask tail', async () => {
    const { publisher, worker } = pair();
    const seen: number[] = [];
    await inContinuations(100, (i) => {
      request(publisher, i);
      seen.push(visible(worker));
    });
    // None was visible while the continuations ran; all of them are once they have.
    expect(seen.filter((n) => n > 0)).toEqual([]);
    expect(visible(worker)).toBe(100);
  });

  it('publishes a synchronous run of requests every 1024, and the rest at the tail', async () => {
    const { publisher, worker } = pair();
    const seen: number[] = [];
    for (let i = 0; i < 2500; i++) {
      request(publisher, i);
      seen.push(visible(worker));
    }
    expect(seen.filter((n) => n > 0)).toEqual([1024, 1024]);
    await Promise.resolve();
    expect(visible(worker)).toBe(2500 - 2048);
  });

  it('still publishes plain messages every 64', async () => {
    const { publisher, worker } = pair();
    const seen: number[] = [];
    await inContinuations(100, () => {
      publisher.pub('svc', 3, undefined, 0, PAYLOAD, false);
      seen.push(visible(worker));
    });
    expect(seen.filter((n) => n > 0)).toEqual([64]);
    expect(visible(worker)).toBe(36);
  });
});
