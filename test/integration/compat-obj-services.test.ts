// The nats.js Object Store and Services add-ons, unchanged, over asNatsConnection(client).

import { randomBytes } from 'node:crypto';
import { Objm } from '@nats-io/obj';
import { Svcm } from '@nats-io/services';
import { type Client, connect } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJetStreamServer } from '../helpers/jetstream.js';
import { type NatsServer, stopAll } from '../helpers/nats-server.js';

let server: NatsServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startJetStreamServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server.stop();
  await stopAll();
});

async function nc() {
  const client = await connect(server.url);
  clients.push(client);
  return asNatsConnection(client);
}

describe('Object Store through asNatsConnection', () => {
  it('puts and gets back a blob of several chunks', async () => {
    const os = await new Objm(await nc()).create('files');
    const blob = new Uint8Array(randomBytes(300 * 1024 + 7));
    const info = await os.putBlob({ name: 'big.bin' }, blob);
    expect([info.size, info.chunks]).toEqual([blob.length, 3]);

    const read = await new Objm(await nc()).open('files');
    const back = await read.getBlob('big.bin');
    expect(back).toEqual(blob);
  });
});

/** @nats-io/services pins a nats-core of its own: its NatsConnection type is that copy's. */
function asServicesConnection(nc: unknown): ConstructorParameters<typeof Svcm>[0] {
  return nc as ConstructorParameters<typeof Svcm>[0];
}

describe('Services through asNatsConnection', () => {
  it('serves an endpoint and answers ping and stats', async () => {
    const service = await new Svcm(asServicesConnection(await nc())).add({
      name: 'echo',
      version: '1.0.0',
    });
    service.addEndpoint('upper', (err, msg) => {
      if (!err) msg.respond(msg.string().toUpperCase());
    });

    const caller = await nc();
    const reply = await caller.request('upper', 'hello', { timeout: 5_000 });
    expect(reply.string()).toBe('HELLO');

    const svc = new Svcm(asServicesConnection(caller)).client();
    const pings = [];
    for await (const ping of await svc.ping('echo')) pings.push(ping);
    expect(pings.map((p) => [p.name, p.version, p.id])).toEqual([
      ['echo', '1.0.0', service.info().id],
    ]);
    const stats = [];
    for await (const s of await svc.stats('echo')) stats.push(s);
    expect(stats[0].endpoints?.map((e) => [e.name, e.num_requests])).toEqual([['upper', 1]]);

    await service.stop();
    await expect(service.stopped).resolves.toBeNull();
  });
});
