// @ts-check
// Queue groups: two members of the group 'workers' share the messages on 'jobs'; each message
// goes to exactly one of them.
// Run: node examples/queue-groups.mjs [url]
import { connect } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const JOBS = 20;
const nc = await connect(url);

const counts = { a: 0, b: 0 };
let handled = 0;
const allHandled = new Promise((resolve) => {
  for (const member of /** @type {const} */ (['a', 'b'])) {
    nc.queueSubscribe('jobs', 'workers', {
      callback: () => {
        counts[member]++;
        if (++handled === JOBS) resolve(undefined);
      },
    });
  }
});
// The subscriptions reach the server before the jobs: both go through the same ordered ring.
for (let i = 0; i < JOBS; i++) nc.publish('jobs', `job ${i}`);
await allHandled;

console.log(`member a handled ${counts.a}, member b handled ${counts.b}, total ${handled}`);
await nc.drain();
