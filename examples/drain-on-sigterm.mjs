// @ts-check
// Graceful shutdown: a service that, on SIGTERM, drains (stops taking new messages, finishes
// the ones on their way, flushes its replies) and then exits by itself.
// Run: node examples/drain-on-sigterm.mjs [url]   then: kill -TERM <pid>
import { connect } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const nc = await connect(url);

let served = 0;
nc.subscribe('echo', {
  callback: (msg) => {
    served++;
    msg.respond(msg.payload);
  },
});
await nc.flush();

process.once('SIGTERM', async () => {
  console.log('SIGTERM: draining');
  await nc.drain();
  const error = await nc.closed(); // undefined: everything accepted was sent
  console.log(`drained after serving ${served}; ${error ? error.kind : 'nothing lost'}`);
  // No process.exit(): once closed, the connection worker ends and the process exits.
});
console.log(`ready (pid ${process.pid})`);
