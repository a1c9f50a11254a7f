// The bench's raw-socket column (bench/clients/raw.ts) against real nats-servers: what it
// publishes arrives whole and in order, it receives what others publish, its requests get
// their own replies, it speaks TLS where the server requires it, and a lost connection fails
// the sample instead of hanging it. Counts and bytes only: no timing.

import { afterAll, describe, expect, it } from 'vitest';
import { connectRaw } from '../../bench/clients/raw.js';
import { rawConnect } from '../../bench/peers/raw.js';
import { makeTestCerts, tlsBlock } from '../helpers/certs.js';
import { startServer, stopAll } from '../helpers/nats-server.js';

afterAll(stopAll);

/** Payload `i` of `size` bytes: its index in the first four bytes, the rest a pattern. */
function payloadOf(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size).map((_, j) => (i + j) & 0xff);
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`still not so after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Publishes `sizes.length` messages through `publisher`, checks `receiver` gets each intact. */
async function roundTrip(url: string, ca?: string): Promise<void> {
  const receiver = await connectRaw(url, ca);
  const publisher = await connectRaw(url, ca);
  // Small frames fill many batches; one frame larger than a batch goes out on its own.
  const sizes = [...Array.from({ length: 20_000 }, (_, i) => 1 + (i % 300)), 200_000, 0, 5];
  const seen: number[] = [];
  const problems: string[] = [];
  receiver.subscribePayloads('raw.test', (payload) => {
    const i = seen.length;
    seen.push(payload.length);
    if (payload.length >= 4 && Buffer.compare(payload, payloadOf(i, payload.length)) !== 0) {
      problems.push(`#${i}`);
    }
  });
  await receiver.flush();
  for (let i = 0; i < sizes.length; i++) {
    const payload = sizes[i] >= 4 ? payloadOf(i, sizes[i]) : new Uint8Array(sizes[i]);
    if (!publisher.publish('raw.test', payload)) await publisher.writable();
  }
  await publisher.flush();
  await Promise.race([waitFor(() => seen.length >= sizes.length, 30_000), receiver.failed]);
  expect(seen).toEqual(sizes);
  expect(problems).toEqual([]);
  await publisher.close();
  await receiver.close();
}

describe('bench raw client', () => {
  it('publishes and receives every message intact, batches and an oversized frame alike', async () => {
    const server = await startServer();
    await roundTrip(server.url);
    await server.stop();
  }, 60_000);

  it('gets each request its own reply through the one wildcard inbox', async () => {
    const server = await startServer();
    // A responder that answers each request with its payload reversed.
    const responder = await rawConnect(server.url, 'SUB raw.echo 1\r\n', (msg, socket) => {
      const payload = Buffer.from(msg.buf.subarray(msg.payloadStart, msg.payloadEnd)).reverse();
      const reply = Buffer.from(msg.buf.subarray(msg.replyStart, msg.replyEnd)).toString();
      socket.write(`PUB ${reply} ${payload.length}\r\n`);
      socket.write(Buffer.concat([payload, Buffer.from('\r\n')]));
    });
    const client = await connectRaw(server.url);
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        client.request('raw.echo', Buffer.from(`request-${i}`)),
      ),
    );
    expect(replies.map((r) => Buffer.from(r).reverse().toString())).toEqual(
      Array.from({ length: 500 }, (_, i) => `request-${i}`),
    );
    expect(Buffer.from(await client.request('raw.echo', Buffer.from('ab'))).toString()).toBe('ba');
    await client.close();
    responder.socket.destroy();
    await server.stop();
  }, 60_000);

  it('keeps replies that arrive split across socket reads intact after later reads', async () => {
    const server = await startServer();
    const responder = await rawConnect(server.url, 'SUB raw.echo 1\r\n', (msg, socket) => {
      const reply = Buffer.from(msg.buf.subarray(msg.replyStart, msg.replyEnd)).toString();
      const payload = Buffer.from(msg.buf.subarray(msg.payloadStart, msg.payloadEnd));
      socket.write(`PUB ${reply} ${payload.length}\r\n`);
      socket.write(Buffer.concat([payload, Buffer.from('\r\n')]));
    });
    const client = await connectRaw(server.url);
    // 100 KB replies never sit whole in one read: the parser assembles each in its own buffer.
    const payloads = Array.from({ length: 40 }, (_, i) => payloadOf(i, 100_000));
    const replies = await Promise.all(payloads.map((p) => client.request('raw.echo', p)));
    const damaged = replies.flatMap((r, i) => (Buffer.compare(r, payloads[i]) === 0 ? [] : [i]));
    expect(damaged).toEqual([]);
    await client.close();
    responder.socket.destroy();
    await server.stop();
  }, 60_000);

  it('speaks TLS to a server that requires it', async () => {
    const certs = await makeTestCerts();
    try {
      const config = `${tlsBlock(certs.server)}\nmax_payload: 300000`;
      const server = await startServer({ config });
      await roundTrip(server.url, certs.ca);
      // The INFO read before the upgrade counts: its limit refuses a larger payload.
      const client = await connectRaw(server.url, certs.ca);
      expect(() => client.publish('raw.test', new Uint8Array(300_001))).toThrow(
        /max_payload 300000/,
      );
      await client.close();
      // Without the upgrade the server would refuse the connection.
      await expect(connectRaw(server.url)).rejects.toThrow();
      await server.stop();
    } finally {
      await certs.remove();
    }
  }, 60_000);

  it('fails the sample when the connection is lost', async () => {
    const server = await startServer();
    const client = await connectRaw(server.url);
    await server.stop();
    await expect(client.failed).rejects.toThrow(/raw: /);
    await client.close(); // after the loss, closing has nothing left to do and does not throw
  }, 30_000);
});
