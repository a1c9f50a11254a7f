// @ts-check
// Request/reply: a service answers on 'math.double'; a client asks it, and learns from a typed
// error when nobody serves a subject.
// Run: node examples/request-reply.mjs [url]
import { connect, NatsError } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const nc = await connect(url);

// The service: a callback subscription that responds to each request's reply subject.
nc.subscribe('math.double', {
  callback: (msg) => {
    const { n } = /** @type {{ n: number }} */ (msg.json());
    msg.respond(JSON.stringify({ n: n * 2 }));
  },
});
await nc.flush(); // the subscription is known to the server before the first request

const reply = await nc.request('math.double', JSON.stringify({ n: 21 }));
console.log('double of 21 is', /** @type {{ n: number }} */ (reply.json()).n);

try {
  await nc.request('math.nobody', 'anyone?');
} catch (error) {
  if (!(error instanceof NatsError)) throw error;
  console.log(`math.nobody: ${error.kind}`); // 'noResponders': the server answered 503 at once
}
await nc.close();
