// API.md "Message": the payload belongs to the message. Its buffer holds its bytes alone,
// transferring it to another thread affects no other message, and a message kept (its payload
// not read yet) still has its bytes after much later traffic.

import { MessageChannel } from 'node:worker_threads';
import type { Client, Message } from 'nats-offload';
import { connect } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { fileServer } from '../helpers/file-server.js';
import { waitFor } from '../helpers/wait.js';

const file = fileServer();

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

/** Sizes of one burst: delivered in one run, so they arrive in the same private memory. */
const SIZES = [10, 128, 1024, 64, 300, 4096];

/** Publishes one burst of {@link SIZES} on `subject` and resolves with the messages received. */
async function burst(c: Client, subject: string): Promise<Message[]> {
  const got: Message[] = [];
  c.subscribe(subject, { callback: (m) => got.push(m) });
  await c.flush();
  SIZES.forEach((size, seed) => {
    c.publish(subject, pattern(size, seed));
  });
  await c.flush();
  await waitFor(() => got.length === SIZES.length, 10_000, 'the burst');
  return got;
}

describe('Message.payload belongs to its message', () => {
  it("has a buffer that holds this message's bytes alone", async () => {
    const client = file.keep(await connect(file.server.url));
    const got = await burst(client, 'own.buffer');
    for (const [seed, m] of got.entries()) {
      expect(m.length).toBe(SIZES[seed]);
      expect(m.payload.byteOffset).toBe(0);
      expect(m.payload.buffer.byteLength).toBe(SIZES[seed]);
      expect(m.payload).toEqual(pattern(SIZES[seed], seed));
    }
  });

  it('can be transferred to another thread without touching the other messages', async () => {
    const client = file.keep(await connect(file.server.url));
    const got = await burst(client, 'own.transfer');
    // structuredClone with a transfer list detaches the payload's buffer, as postMessage does.
    const moved = structuredClone(got[1].payload, { transfer: [got[1].payload.buffer] });
    expect(moved).toEqual(pattern(SIZES[1], 1));
    expect(got[1].payload.length).toBe(0); // detached: it went to the clone
    const channel = new MessageChannel();
    const received = new Promise<Uint8Array>((resolve) =>
      channel.port2.once('message', (bytes: Uint8Array) => resolve(bytes)),
    );
    channel.port1.postMessage(got[3].payload, [got[3].payload.buffer]);
    expect(await received).toEqual(pattern(SIZES[3], 3));
    channel.port1.close();
    for (const seed of [0, 2, 4, 5]) {
      expect(got[seed].payload, `message ${seed}`).toEqual(pattern(SIZES[seed], seed));
      expect(got[seed].string()).toBe(Buffer.from(pattern(SIZES[seed], seed)).toString());
    }
  });

  it('keeps its bytes through later traffic when its payload is read only afterwards', async () => {
    const client = file.keep(await connect(file.server.url));
    const [kept] = await burst(client, 'own.kept');
    // Several private slabs' worth of deliveries after it.
    const later: Message[] = [];
    client.subscribe('own.later', { callback: (m) => later.push(m) });
    await client.flush();
    for (let i = 0; i < 2000; i++) client.publish('own.later', pattern(1000, i));
    await client.flush();
    await waitFor(() => later.length === 2000, 20_000, 'the later traffic');
    expect(kept.length).toBe(SIZES[0]);
    expect(kept.payload).toEqual(pattern(SIZES[0], 0));
    expect(later[1999].payload).toEqual(pattern(1000, 1999));
  });
});
