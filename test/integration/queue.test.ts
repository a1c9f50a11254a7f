// Queue groups: the server spreads a group's messages over its members, each message to one.

import { type Client, ConnectOptions, connect, NatsError } from 'nats-offload';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';

let server: NatsServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.stop();
  await stopAll();
});

async function open(): Promise<Client> {
  const client = await connect(server.url);
  clients.push(client);
  return client;
}

function expectKind(fn: () => unknown, kind: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(NatsError);
  expect((thrown as NatsError).kind).toBe(kind);
}

describe('queueSubscribe', () => {
  it('spreads 1,000 messages over two members on two clients, each message once', async () => {
    const N = 1_000;
    const a = await open();
    const b = await open();
    const publisher = await open();
    const gotA: number[] = [];
    const gotB: number[] = [];
    const subA = a.queueSubscribe('work.items', 'workers', {
      callback: (m) => gotA.push(Number(m.string())),
    });
    b.queueSubscribe('work.items', 'workers', { callback: (m) => gotB.push(Number(m.string())) });
    // A plain subscriber on the same subject sees every message: proof they were all sent.
    const all: number[] = [];
    publisher.subscribe('work.items', { callback: (m) => all.push(Number(m.string())) });
    await Promise.all([a.flush(), b.flush(), publisher.flush()]);
    expect(subA.subject).toBe('work.items');

    for (let i = 0; i < N; i++) publisher.publish('work.items', String(i));
    // Every PUB was routed before the publisher's PONG; each member's PONG follows its messages.
    await publisher.flush();
    await Promise.all([a.flush(), b.flush()]);

    expect(all).toHaveLength(N);
    expect(gotA.length).toBeGreaterThan(0);
    expect(gotB.length).toBeGreaterThan(0);
    expect(gotA.length + gotB.length).toBe(N);
    const union = new Set([...gotA, ...gotB]);
    expect(union.size).toBe(N);
    expect([...union].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
    // Each member sees its share in publish order.
    expect(gotA).toEqual([...gotA].sort((x, y) => x - y));
    expect(gotB).toEqual([...gotB].sort((x, y) => x - y));
  });

  it('spreads messages over two members of one client', async () => {
    const N = 1_000;
    const client = await open();
    const got: [number[], number[]] = [[], []];
    for (const k of [0, 1] as const) {
      client.queueSubscribe('work.one', 'q1', { callback: (m) => got[k].push(Number(m.string())) });
    }
    await client.flush();
    for (let i = 0; i < N; i++) client.publish('work.one', String(i));
    await client.flush();

    expect(got[0].length).toBeGreaterThan(0);
    expect(got[1].length).toBeGreaterThan(0);
    expect(got[0].length + got[1].length).toBe(N);
    expect(new Set([...got[0], ...got[1]]).size).toBe(N);
  });

  it('members of different groups each get every message', async () => {
    const client = await open();
    const g1: string[] = [];
    const g2: string[] = [];
    client.queueSubscribe('work.groups', 'g1', { callback: (m) => g1.push(m.string()) });
    client.queueSubscribe('work.groups', 'g2', { callback: (m) => g2.push(m.string()) });
    await client.flush();
    for (let i = 0; i < 20; i++) client.publish('work.groups', String(i));
    await client.flush();
    const expected = Array.from({ length: 20 }, (_, i) => String(i));
    expect(g1).toEqual(expected);
    expect(g2).toEqual(expected);
  });

  it('rejects an invalid queue group synchronously', async () => {
    const client = await new ConnectOptions().connect(server.url);
    clients.push(client);
    expectKind(() => client.queueSubscribe('work.bad', ''), 'badSubject');
    expectKind(() => client.queueSubscribe('work.bad', 'a b'), 'badSubject');
    expectKind(() => client.queueSubscribe('work.bad', 'tab\there'), 'badSubject');
    expectKind(() => client.queueSubscribe('work.bad', 'line\r\n'), 'badSubject');
    expectKind(() => client.queueSubscribe('work.bad', 42 as unknown as string), 'invalidArgument');
    expectKind(() => client.queueSubscribe('a..b', 'fine'), 'badSubject');
    // The connection survived the rejected calls.
    await client.flush();
    expect(client.connectionState()).toBe('connected');
  });
});
