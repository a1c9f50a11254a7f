// @ts-check
// Headers: multi-valued, case-preserving, sent with publishWithHeaders and read from Message.
// Run: node examples/headers.mjs [url]
import { connect, HeaderMap } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const nc = await connect(url);

const sub = nc.subscribe('orders.created', { max: 1 });
const headers = new HeaderMap();
headers.insert('Trace-Id', 'abc123');
headers.append('Tag', 'priority');
headers.append('Tag', 'gift');
nc.publishWithHeaders('orders.created', headers, JSON.stringify({ id: 7 }));

for await (const msg of sub) {
  console.log('Trace-Id:', msg.headers?.get('Trace-Id'));
  console.log('Tag:', msg.headers?.getAll('Tag').join(', '));
  console.log('order:', /** @type {{ id: number }} */ (msg.json()).id);
}
await nc.close();
