// The nats.js JetStream add-on, unchanged, over asNatsConnection(client): streams, publish
// with dedup, ordered and durable consumers (consume, fetch, next, ack, ackAck), the ordered
// consumer's reset, and the add-on's own error when JetStream is not enabled.

import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { connect } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { describe, expect, it } from 'vitest';
import { fileServer } from '../helpers/file-server.js';
import { startJetStreamServer } from '../helpers/jetstream.js';
import { startServer } from '../helpers/nats-server.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

const file = fileServer(startJetStreamServer);

async function open() {
  const client = file.keep(await connect(file.server.url));
  const nc = asNatsConnection(client);
  return { client, nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
}

describe('JetStream through asNatsConnection', () => {
  it('publishes to a stream, deduplicating by msgID', async () => {
    const { js, jsm } = await open();
    await jsm.streams.add({ name: 'DEDUP', subjects: ['dedup.>'] });
    const first = await js.publish('dedup.a', 'one', { msgID: 'm-1' });
    const again = await js.publish('dedup.a', 'one', { msgID: 'm-1' });
    const other = await js.publish('dedup.b', 'two', { msgID: 'm-2' });
    expect([first.seq, first.duplicate]).toEqual([1, false]);
    expect([again.seq, again.duplicate]).toEqual([1, true]);
    expect([other.seq, other.stream]).toEqual([2, 'DEDUP']);
    expect((await jsm.streams.info('DEDUP')).state.messages).toBe(2);
  });

  it('ordered consumer: consume and fetch deliver the stream subjects in order', async () => {
    const { js, jsm } = await open();
    await jsm.streams.add({ name: 'ORDERED', subjects: ['ordered.>'] });
    const sent = Array.from({ length: 20 }, (_, i) => `ordered.${i % 3}`);
    await Promise.all(sent.map((subject, i) => js.publish(subject, `${i}`)));

    const consumer = await js.consumers.get('ORDERED');
    const consumed: string[] = [];
    const messages = await consumer.consume();
    for await (const m of messages) {
      consumed.push(`${m.subject}=${m.string()}`);
      if (consumed.length === sent.length) break;
    }
    expect(consumed).toEqual(sent.map((subject, i) => `${subject}=${i}`));

    const fetcher = await js.consumers.get('ORDERED');
    const fetched: string[] = [];
    for await (const m of await fetcher.fetch({ max_messages: 5 })) fetched.push(m.subject);
    expect(fetched).toEqual(sent.slice(0, 5));
  });

  it('ordered consumer resets and goes on after its server-side consumer is deleted', async () => {
    const { js, jsm } = await open();
    await jsm.streams.add({ name: 'RESET', subjects: ['reset.>'] });
    for (let i = 0; i < 5; i++) await js.publish(`reset.${i}`, `${i}`);
    const consumer = await js.consumers.get('RESET');
    const messages = await consumer.consume({ idle_heartbeat: 1_000, expires: 2_000 });
    const got: string[] = [];
    const reading = (async () => {
      for await (const m of messages) {
        got.push(m.subject);
        if (got.length === 10) break;
      }
    })();
    await waitFor(() => got.length === 5, 10_000, 'the first five messages');
    const first = (await consumer.info(true)).name;
    await jsm.consumers.delete('RESET', first);
    for (let i = 5; i < 10; i++) await js.publish(`reset.${i}`, `${i}`);
    await reading;
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `reset.${i}`));
    expect((await consumer.info(true)).name).not.toBe(first);
  }, 60_000);

  it('durable consumer: next, ack and ackAck', async () => {
    const { js, jsm } = await open();
    await jsm.streams.add({ name: 'WORK', subjects: ['work.>'] });
    await jsm.consumers.add('WORK', { durable_name: 'worker', ack_policy: AckPolicy.Explicit });
    await js.publish('work.a', 'A');
    await js.publish('work.b', 'B');
    const consumer = await js.consumers.get('WORK', 'worker');

    const a = await consumer.next();
    expect([a?.subject, a?.string(), a?.info.deliveryCount]).toEqual(['work.a', 'A', 1]);
    a?.ack();
    const b = await consumer.next();
    expect(b?.subject).toBe('work.b');
    expect(await b?.ackAck()).toBe(true);

    await waitForAsync(
      async () => (await jsm.consumers.info('WORK', 'worker')).num_ack_pending === 0,
      10_000,
      'both acks on the server',
    );
    expect((await jsm.consumers.info('WORK', 'worker')).delivered.stream_seq).toBe(2);
    expect(await consumer.next({ expires: 1_000 })).toBeNull();
  });

  it('closing the client under running consumers ends them', async () => {
    const { client, js, jsm } = await open();
    await jsm.streams.add({ name: 'CLOSING', subjects: ['closing.>'] });
    await jsm.consumers.add('CLOSING', { durable_name: 'd', ack_policy: AckPolicy.Explicit });
    await js.publish('closing.a', 'a');
    const got = { ordered: 0, durable: 0 };
    const ends = (['ordered', 'durable'] as const).map(async (kind) => {
      const consumer = await js.consumers.get('CLOSING', kind === 'durable' ? 'd' : undefined);
      for await (const m of await consumer.consume({ idle_heartbeat: 500, expires: 1_000 })) {
        got[kind]++;
        m.ack();
      }
    });
    await waitFor(() => got.ordered === 1 && got.durable === 1, 10_000, 'both consumers running');
    await client.close();
    await expect(Promise.all(ends)).resolves.toEqual([undefined, undefined]);
  });

  it('a server without JetStream: the add-on raises JetStreamNotEnabled', async () => {
    const plain = await startServer();
    try {
      const client = file.keep(await connect(plain.url));
      const jsm = jetstreamManager(asNatsConnection(client));
      await expect(jsm).rejects.toBeInstanceOf(jserrors.JetStreamNotEnabled);
    } finally {
      await plain.stop();
    }
  });
});
