// @ts-check
// Connection events and state: every Event through status(), and a reconnect forced by the
// client. A real outage looks the same: 'disconnected' (with why), then 'connected' again.
// Run: node examples/reconnect-events.mjs [url]
import { connect } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const nc = await connect(url, { name: 'events-example', maxReconnects: null });
console.log('state:', nc.connectionState());

// status() is an async iterable of every Event from now on; it ends when the client closes.
// Events arrive after the state they report, so wait for them rather than poll the state.
let disconnects = 0;
const reconnected = new Promise((resolveReconnect) => {
  (async () => {
    for await (const event of nc.status()) {
      const why =
        'error' in event && event.error ? ` (${event.error.kind}: ${event.error.message})` : '';
      console.log(`event: ${event.type}${why}`);
      if (event.type === 'disconnected') disconnects++;
      if (event.type === 'connected' && disconnects > 0) resolveReconnect(undefined);
    }
  })();
});

await nc.forceReconnect(); // the old socket ends gracefully: nothing accepted is lost
await reconnected;

const stats = nc.statistics();
console.log(`state: ${nc.connectionState()}, connects: ${stats.connects}`);
console.log(
  `pool: ${nc
    .serverPool()
    .map((s) => `${s.url} (failed ${s.failedAttempts})`)
    .join(', ')}`,
);
await nc.close();
