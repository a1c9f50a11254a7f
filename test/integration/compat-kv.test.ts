// The nats.js KV add-on, unchanged, over asNatsConnection(client): put/get/keys/history/
// watch/delete, and a watch that goes on across a server restart.

import { Kvm } from '@nats-io/kv';
import { connect } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { describe, expect, it } from 'vitest';
import { fileServer } from '../helpers/file-server.js';
import { startJetStreamServer } from '../helpers/jetstream.js';
import { waitFor } from '../helpers/wait.js';

const file = fileServer(startJetStreamServer);

async function bucket(name: string, history = 1) {
  const client = file.keep(await connect(file.server.url));
  return new Kvm(asNatsConnection(client)).create(name, { history });
}

describe('KV through asNatsConnection', () => {
  it('put, get, keys, history and delete', async () => {
    const kv = await bucket('config', 5);
    expect(await kv.put('color', 'red')).toBe(1);
    await kv.put('color', 'blue');
    await kv.put('size', 'L');

    const color = await kv.get('color');
    expect([color?.string(), color?.revision, color?.operation]).toEqual(['blue', 2, 'PUT']);
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    expect(keys.sort()).toEqual(['color', 'size']);

    const history: string[] = [];
    for await (const e of await kv.history({ key: 'color' })) history.push(e.string());
    expect(history).toEqual(['red', 'blue']);

    await kv.delete('color');
    expect((await kv.get('color'))?.operation).toBe('DEL');
    expect(await kv.get('missing')).toBeNull();
  });

  it('watch sees the current values, then every put and delete', async () => {
    const kv = await bucket('watched');
    await kv.put('a', '1');
    const seen: string[] = [];
    const watch = await kv.watch();
    const reading = (async () => {
      for await (const e of watch) {
        seen.push(`${e.operation} ${e.key}=${e.string()}`);
        if (seen.length === 3) break;
      }
    })();
    await waitFor(() => seen.length === 1, 10_000, 'the current value');
    await kv.put('b', '2');
    await kv.delete('a');
    await reading;
    expect(seen).toEqual(['PUT a=1', 'PUT b=2', 'DEL a=']);
  });

  it('a watch goes on after the server restarts', async () => {
    const client = file.keep(await connect(file.server.url));
    const kv = await new Kvm(asNatsConnection(client)).create('restarted');
    await kv.put('k', 'before');
    const seen: string[] = [];
    const watch = await kv.watch();
    void (async () => {
      for await (const e of watch) seen.push(e.string());
    })();
    await waitFor(() => seen.length === 1, 10_000, 'the value before the restart');

    await file.server.restart!();
    await waitFor(() => client.connectionState() === 'connected', 20_000, 'reconnected');
    // Puts fail until the restarted server's JetStream is ready; the watch must see the one
    // that lands.
    let put = false;
    for (let attempt = 0; attempt < 100 && !put; attempt++) {
      put = await kv.put('k', 'after').then(
        () => true,
        () => false,
      );
    }
    expect(put).toBe(true);
    await waitFor(() => seen.includes('after'), 30_000, 'the value after the restart');
    watch.stop();
  }, 60_000);
});
