// @ts-check
// Publish and subscribe: an iterator subscription receives three messages, then ends.
// Run: node examples/pub-sub.mjs [nats://127.0.0.1:4222]   (or set NATS_URL)
import { connect } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const nc = await connect(url);

// max: 3 ends the iterator after the third message (the server is told to stop there too).
const sub = nc.subscribe('greet.*', { max: 3 });
for (const name of ['ada', 'grace', 'barbara']) nc.publish(`greet.${name}`, `hello ${name}`);

for await (const msg of sub) console.log(`${msg.subject}: ${msg.string()}`);
await nc.close();
