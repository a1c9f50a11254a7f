/**
 * Responder peer: answers every request on `subject` with its own payload, over a raw socket.
 * Tells its parent `ready` once its subscription is registered at the server.
 *
 *   fork('dist/bench/peers/responder.js', [url, subject])
 */
import { exitWithParent, rawConnect } from './raw.js';

const [url, subject] = process.argv.slice(2);
exitWithParent();

await rawConnect(url, `SUB ${subject} 1\r\n`, (msg, socket) => {
  if (msg.replyStart === msg.replyEnd) return;
  const bytes = Buffer.from(msg.buf.buffer, msg.buf.byteOffset, msg.buf.length);
  const reply = bytes.toString('latin1', msg.replyStart, msg.replyEnd);
  socket.write(`PUB ${reply} ${msg.payloadEnd - msg.payloadStart}\r\n`, 'latin1');
  // A copy: the parser may hand out its own reusable buffer for a message split across reads.
  socket.write(Buffer.from(bytes.subarray(msg.payloadStart, msg.payloadEnd)));
  socket.write('\r\n', 'latin1');
});
process.send?.('ready');
