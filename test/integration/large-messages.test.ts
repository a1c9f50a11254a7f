// Messages up to the server's max_payload (64 MiB at most), far larger than the 4 MiB rings:
// 20 MiB and 60 MiB each way with headers, against nats.js as an independent peer and between
// two clients of ours interleaved with small messages on the same subject (order kept), a
// large reply to a request, the limits (max_payload with headers counted, maxPendingBytes),
// and a large receive that leaves the main thread's event loop free between slices.

import { connect as natsJsConnect, headers as natsJsHeaders } from '@nats-io/transport-node';
import { type Client, ConnectOptions, HeaderMap, type Message, NatsError } from 'nats-offload';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lastAssemblySlices } from '../../src/main/test-hooks.js';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const MAX_PAYLOAD = 64 * MiB;
/** A generous bound for moving 60 MiB through a loaded two-core machine. */
const LARGE_TIMEOUT_MS = 60_000;

let server: NatsServer;
const clients: Client[] = [];

beforeAll(async () => {
  // max_pending above max_payload: at the default (64 MB) the server cuts a client it sends a
  // max_payload message to as a slow consumer (its pending bytes include the MSG line).
  server = await startServer({ config: 'max_payload: 64MB\nmax_pending: 128MB' });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.stop();
  await stopAll();
});

async function client(options = new ConnectOptions()): Promise<Client> {
  const c = await options.connect(server.url);
  clients.push(c);
  return c;
}

/** `length` bytes of a pattern that differs per `seed`, so swapped or shifted bytes show. */
function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed + (i >>> 16)) & 0xff;
  return bytes;
}

/** Compared as Buffers: a failure says where, without a diff of megabytes. */
function expectSameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  expect(Buffer.compare(Buffer.from(got), Buffer.from(want)), `${what}: bytes`).toBe(0);
}

function headers(seq: number): HeaderMap {
  const h = new HeaderMap();
  h.insert('Seq', String(seq));
  h.insert('Kind', 'large');
  return h;
}

describe('messages larger than the rings, up to max_payload', () => {
  it('the client sees max_payload 64 MiB from INFO', async () => {
    const c = await client();
    expect(c.maxPayload()).toBe(MAX_PAYLOAD);
  });

  for (const size of [20 * MiB, 60 * MiB]) {
    const label = `${size / MiB} MiB`;

    it(`publishes ${label} with headers to a nats.js subscriber`, async () => {
      const peer = await natsJsConnect({ servers: server.url });
      try {
        const got = new Promise<{ data: Uint8Array; seq: string | undefined }>((resolve) => {
          peer.subscribe('large.out', {
            max: 1,
            callback: (_, m) => resolve({ data: m.data, seq: m.headers?.get('Seq') }),
          });
        });
        await peer.flush();
        const c = await client();
        const payload = pattern(size, 1);
        c.publishWithHeaders('large.out', headers(7), payload);
        const m = await withTimeout(got, LARGE_TIMEOUT_MS, `${label} at nats.js`);
        expect(m.seq).toBe('7');
        expectSameBytes(m.data, payload, label);
      } finally {
        await peer.close();
      }
    });

    it(`receives ${label} with headers from a nats.js publisher`, async () => {
      const c = await client();
      const got = new Promise<Message>((resolve) => {
        c.subscribe('large.in', { callback: resolve });
      });
      await c.flush();
      const peer = await natsJsConnect({ servers: server.url });
      try {
        const payload = pattern(size, 2);
        const h = natsJsHeaders();
        h.set('Seq', '9');
        peer.publish('large.in', payload, { headers: h });
        await peer.flush();
        const m = await withTimeout(got, LARGE_TIMEOUT_MS, `${label} from nats.js`);
        expect(m.subject).toBe('large.in');
        expect(m.headers?.get('Seq')).toBe('9');
        expect(m.length).toBe(size);
        expectSameBytes(m.payload, payload, label);
        // Assembled in memory of its own: the buffer holds this payload alone.
        expect(m.payload.byteOffset).toBe(0);
        expect(m.payload.buffer.byteLength).toBe(size);
      } finally {
        await peer.close();
      }
    });
  }

  it('keeps order with small messages on the same subject, both ways between two clients', async () => {
    const publisher = await client(new ConnectOptions().maxPendingBytes(256 * MiB));
    const receiver = await client();
    const sent = [
      pattern(10, 0),
      pattern(20 * MiB, 1),
      pattern(100, 2),
      pattern(3 * MiB, 3),
      pattern(60 * MiB, 4),
      pattern(1, 5),
    ];
    const got: Message[] = [];
    receiver.subscribe('large.order', { callback: (m) => got.push(m) });
    await receiver.flush();
    sent.forEach((payload, seq) => {
      publisher.publishWithHeaders('large.order', headers(seq), payload);
    });
    await withTimeout(publisher.flush(), LARGE_TIMEOUT_MS, 'publisher flush');
    await waitFor(() => got.length >= sent.length, LARGE_TIMEOUT_MS, 'every message');
    expect(got.map((m) => m.headers?.get('Seq'))).toEqual(sent.map((_, seq) => String(seq)));
    for (const [seq, m] of got.entries()) expectSameBytes(m.payload, sent[seq], `message ${seq}`);
  });

  it('delivers its own large publishes to a client in order with small ones (echo)', async () => {
    const c = await client();
    const got: Message[] = [];
    c.subscribe('large.self', { callback: (m) => got.push(m) });
    await c.flush();
    const sent = [pattern(5, 0), pattern(20 * MiB, 1), pattern(5, 2), pattern(2 * MiB, 3)];
    sent.forEach((payload, seq) => {
      c.publishWithHeaders('large.self', headers(seq), payload);
    });
    await waitFor(() => got.length >= sent.length, LARGE_TIMEOUT_MS, 'every message');
    expect(got.map((m) => m.headers?.get('Seq'))).toEqual(['0', '1', '2', '3']);
    for (const [seq, m] of got.entries()) expectSameBytes(m.payload, sent[seq], `message ${seq}`);
  });

  it('answers a request with a 20 MiB reply, with headers', async () => {
    const responder = await client();
    const requester = await client();
    const reply = pattern(20 * MiB, 6);
    responder.subscribe('large.service', {
      callback: (m) => m.respond(reply, headers(1)),
    });
    await responder.flush();
    const m = await withTimeout(
      requester.sendRequest('large.service', { payload: 'give', timeout: LARGE_TIMEOUT_MS }),
      LARGE_TIMEOUT_MS,
      'the large reply',
    );
    expect(m.headers?.get('Seq')).toBe('1');
    expectSameBytes(m.payload, reply, 'reply');
  });

  it('assembles a 60 MiB delivery in several dispatch slices, the event loop turning between', async () => {
    const c = await client();
    const peer = await client();
    const payload = pattern(60 * MiB, 7); // made before the timer: it takes a while itself
    let longestGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 1);
    try {
      const got = new Promise<Message>((resolve) =>
        c.subscribe('large.slices', { callback: resolve }),
      );
      await c.flush();
      peer.publish('large.slices', payload);
      const m = await withTimeout(got, LARGE_TIMEOUT_MS, '60 MiB');
      expect(m.length).toBe(60 * MiB);
    } finally {
      clearInterval(timer);
    }
    // 240 PART frames of 256 KiB through a 4 MiB ring: many slices, never one long block.
    expect(lastAssemblySlices(c)).toBeGreaterThan(4);
    expect(longestGap).toBeLessThan(500);
  });
});

describe('limits of large messages', () => {
  it("throws 'maxPayloadExceeded' above max_payload, headers counted as the server does", async () => {
    const c = await client(new ConnectOptions().maxPendingBytes(256 * MiB));
    const kind = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof NatsError ? error.kind : error;
      }
      return 'nothing thrown';
    };
    expect(kind(() => c.publish('large.limit', new Uint8Array(MAX_PAYLOAD + 1)))).toBe(
      'maxPayloadExceeded',
    );
    expect(
      kind(() => c.publishWithHeaders('large.limit', headers(1), new Uint8Array(MAX_PAYLOAD - 8))),
    ).toBe('maxPayloadExceeded');
    // Exactly max_payload is allowed, and arrives.
    const got = new Promise<Message>((resolve) =>
      c.subscribe('large.limit', { callback: resolve }),
    );
    await c.flush();
    c.publish('large.limit', pattern(MAX_PAYLOAD, 8));
    const m = await withTimeout(got, LARGE_TIMEOUT_MS, 'a max_payload message');
    expect(m.length).toBe(MAX_PAYLOAD);
  });

  it("throws 'clientCapacity' for a large publish past maxPendingBytes, and sends none of it", async () => {
    const c = await client(new ConnectOptions().maxPendingBytes(16 * MiB));
    const got: Message[] = [];
    c.subscribe('large.pending', { callback: (m) => got.push(m) });
    await c.flush();
    let error: unknown;
    try {
      c.publish('large.pending', new Uint8Array(20 * MiB));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).kind).toBe('clientCapacity');
    c.publish('large.pending', 'after');
    await waitFor(() => got.length > 0, LARGE_TIMEOUT_MS, 'the small message after it');
    await c.flush();
    expect(got.map((m) => m.string())).toEqual(['after']);
  });
});
