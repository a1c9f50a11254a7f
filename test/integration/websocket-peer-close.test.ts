// A WebSocket server's close frame (nats-server sends 1001 when it shuts down) ends the session
// at once, not when the TCP connection closes later: publishes made meanwhile wait in the
// command ring for the next connection instead of being handed to a closing WebSocket, which
// refuses them (they used to be counted as not sent, and flush() still resolved).
//
// The server here is a fake that keeps reading after its close frame, so anything written to
// it would arrive: every message must arrive, exactly once; only what the first connection
// took and no PONG acknowledged may be counted (the frame does not say what the server read).

import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { ConnectOptions, type NatsError } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { onLoopback } from '../helpers/loopback-server.js';
import { waitFor } from '../helpers/wait.js';

const INFO = `INFO ${JSON.stringify({ server_id: 'FAKE', version: '2.9.10', proto: 1, headers: true, max_payload: 1048576 })}\r\n`;

/** One unmasked server frame. */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : Buffer.concat([
          Buffer.from([0x80 | opcode, 126]),
          Buffer.from([length >> 8, length & 255]),
        ]);
  return Buffer.concat([head, payload]);
}

/** Calls `onPayload` with each masked client frame's opcode and payload. */
function clientFrames(onPayload: (opcode: number, payload: Buffer) => void) {
  let pending = Buffer.alloc(0);
  return (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      let length = pending[1] & 127;
      let offset = 2;
      if (length === 126) {
        if (pending.length < 4) return;
        length = pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (pending.length < 10) return;
        length = Number(pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (pending.length < offset + 4 + length) return;
      const mask = pending.subarray(offset, offset + 4);
      const payload = Buffer.from(pending.subarray(offset + 4, offset + 4 + length));
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      onPayload(pending[0] & 15, payload);
      pending = pending.subarray(offset + 4 + length);
    }
  };
}

/**
 * A fake server: records `PUB seq.N` numbers; on its first connection, after `closeAfter`, sends
 * a close frame. With `refuse`, it answers the upgrade, its INFO, `-ERR '<refuse>'` and a close
 * frame in one write instead.
 */
function fakeServer(closeAfter: number, refuse?: string) {
  const seen: number[] = [];
  let seenFirst = 0;
  let connections = 0;
  const server = createServer((socket) => {
    const first = connections++ === 0;
    let head = '';
    let text = '';
    const onFrames = clientFrames((opcode, payload) => {
      if (opcode !== 1 && opcode !== 2 && opcode !== 0) return; // the client's close frame: keep reading
      text += payload.toString('latin1');
      for (let end = text.indexOf('\r\n'); end >= 0; end = text.indexOf('\r\n')) {
        const line = text.slice(0, end);
        text = text.slice(end + 2);
        if (line === 'PING') socket.write(frame(2, Buffer.from('PONG\r\n')));
        const pub = /^PUB seq\.(\d+) /.exec(line);
        if (pub === null) continue;
        seen.push(Number(pub[1]));
        if (first) seenFirst++;
        if (first && Number(pub[1]) === closeAfter) {
          socket.write(frame(8, Buffer.from([0x03, 0xe9]))); // 1001: going away
        }
      }
    });
    const onUpgrade = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onUpgrade);
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
      const accept = createHash('sha1')
        .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
        .digest('base64');
      const upgraded = Buffer.from(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      const refusal =
        refuse === undefined
          ? []
          : [frame(2, Buffer.from(`-ERR '${refuse}'\r\n`)), frame(8, Buffer.from([0x03, 0xf0]))];
      socket.write(Buffer.concat([upgraded, frame(2, Buffer.from(INFO)), ...refusal]));
      socket.on('data', onFrames);
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length > 0) onFrames(rest);
    };
    socket.on('data', onUpgrade);
  });
  return {
    seen,
    seenFirst: () => seenFirst,
    connections: () => connections,
    ...onLoopback(server),
  };
}

let stop: (() => void) | undefined;
afterEach(() => stop?.());

describe("a WebSocket server's close frame", () => {
  it('moves what is published next to the next connection: every message arrives once', async () => {
    const COUNT = 3_000;
    const fake = fakeServer(99);
    stop = fake.close;
    const port = await fake.listen();
    const client = await new ConnectOptions()
      .reconnectDelayCallback(() => 50)
      .connect(`ws://127.0.0.1:${port}`);
    for (let i = 0; i < COUNT; i++) {
      client.publish(`seq.${i}`, 'x');
      if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await waitFor(() => client.statistics().connects === 2, 10_000, 'the second connection');
    await client.flush();
    await client.close();
    // The close frame says nothing of what the server read: what no PONG acknowledged on the
    // first connection is counted (an upper bound: this fake read it all); nothing after it.
    const closed = (await client.closed()) as NatsError | undefined;
    expect(closed === undefined || closed.kind === 'notSent').toBe(true);
    expect(closed?.count ?? 0).toBeLessThanOrEqual(fake.seenFirst());
    expect(fake.connections()).toBe(2);
    expect(fake.seen).toEqual(Array.from({ length: COUNT }, (_, i) => i));
  });

  it("does not hide what came before it in the same read: the server's -ERR is the failure", async () => {
    const fake = fakeServer(0, 'maximum connections exceeded');
    stop = fake.close;
    const port = await fake.listen();
    const attempt = new ConnectOptions().connectionTimeout(2_000).connect(`ws://127.0.0.1:${port}`);
    await expect(attempt).rejects.toMatchObject({
      message: expect.stringMatching(/maximum connections exceeded/i),
    });
  });
});
