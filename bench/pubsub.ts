/**
 * First benchmark (the full side-by-side harness comes with issue 3): publish and subscribe
 * rates for small messages through nats-offload. Without `--url` it starts a local
 * nats-server on a free port and stops it at the end.
 *
 *   node dist/bench/pubsub.js [--url nats://host:4222] [--count 1000000] [--size 128]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Client, ConnectOptions, connect } from '../src/main/index.js';
import { type NatsServer, startServer } from '../test/helpers/nats-server.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string', default: '1000000' },
    size: { type: 'string', default: '128' },
  },
});
const count = Number(values.count);
const size = Number(values.size);
const payload = new Uint8Array(size).fill(0x61);

async function publishAll(client: Client, subject: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!client.publish(subject, payload)) await client.writable();
  }
}

function rate(ms: number): { msgs: number; mb: number } {
  const perSecond = count / (ms / 1000);
  return { msgs: Math.round(perSecond), mb: Math.round((perSecond * size) / 1e6) };
}

/** pub: publish `count` messages, then flush (all reached the server). */
async function pub(url: string) {
  const client = await connect(url);
  const start = performance.now();
  await publishAll(client, 'bench.pub');
  await client.flush();
  const ms = performance.now() - start;
  await client.close();
  return rate(ms);
}

/**
 * sub: a publisher in another process floods; this client counts in a callback, from the first
 * message to the last. A slow consumer (messages dropped) fails the run rather than hanging it.
 */
async function sub(url: string) {
  let received = 0;
  let first = 0;
  let finish!: (ms: number) => void;
  let fail!: (error: Error) => void;
  const done = new Promise<number>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const receiver = await new ConnectOptions()
    .eventCallback((event) => {
      if (event.type === 'slowConsumer')
        fail(new Error(`slow consumer after ${received} messages`));
    })
    .connect(url);
  receiver.subscribe('bench.sub', {
    callback: () => {
      if (received++ === 0) first = performance.now();
      if (received === count) finish(performance.now() - first);
    },
  });
  await receiver.flush();
  const flood = fork(fileURLToPath(new URL('./flood.js', import.meta.url)), [
    url,
    'bench.sub',
    String(count),
    String(size),
  ]);
  try {
    return rate(await done);
  } finally {
    flood.kill();
    await receiver.close();
  }
}

/** pubsub: one client publishes and receives its own messages. */
async function pubsub(url: string) {
  const client = await connect(url);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    client.subscribe('bench.pubsub', {
      callback: () => {
        if (++received === count) resolve();
      },
    });
  });
  const start = performance.now();
  await publishAll(client, 'bench.pubsub');
  await done;
  const ms = performance.now() - start;
  await client.close();
  return rate(ms);
}

const server: NatsServer | undefined = values.url ? undefined : await startServer();
const url = values.url ?? (server as NatsServer).url;
try {
  console.log(
    `nats-offload, ${count} × ${size} B messages against ${url}${server ? ' (local nats-server)' : ''}`,
  );
  const rows: Record<string, { msgs: number; mb: number }> = {};
  for (const [name, run] of Object.entries({ pub, sub, pubsub })) {
    rows[name] = await run(url);
    console.log(`${name}: ${rows[name].msgs} msgs/s`);
  }
  console.table(
    Object.fromEntries(
      Object.entries(rows).map(([k, v]) => [k, { 'msgs/s': v.msgs, 'MB/s': v.mb }]),
    ),
  );
} finally {
  await server?.stop();
}
