/**
 * A publisher in its own process, so a receiving benchmark measures only the receiver:
 *   node dist/bench/flood.js <url> <subject> <count> <size>
 */
import { connect } from '../src/main/index.js';

const [url, subject, countText, sizeText] = process.argv.slice(2);
const count = Number(countText);
const payload = new Uint8Array(Number(sizeText)).fill(0x62);
const client = await connect(url);
for (let i = 0; i < count; i++) {
  if (!client.publish(subject, payload)) await client.writable();
}
await client.flush();
await client.close();
