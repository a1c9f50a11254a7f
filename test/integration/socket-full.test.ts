// A full socket (API.md "Back-pressure"): while the server does not read what the client sends,
// publishes wait on the caller's thread, also while the server keeps sending to the client. Each
// socket chunk the worker read used to pump one more batch of the command ring behind the full
// socket, copied into the worker's memory: messages arriving drained the ring, and the publisher
// never felt the back-pressure. A real nats-server cannot stop reading a client while it goes on
// writing to it, so a scripted peer plays the server.

import { type Client, ConnectOptions } from 'nats-offload';
import { afterEach, expect, it } from 'vitest';
import { infoLine, type ScriptedPeer, startScriptedPeer } from '../helpers/scripted-peer.js';
import { settledYet, waitFor, withTimeout } from '../helpers/wait.js';

const SIZE = 16 * 1024;
/** Far more than the ring, the kernel's buffers and the caller's queue hold together. */
const MAX_MESSAGES = 20_000;
const ARRIVING = 50;
/** writable() pending this long: the worker is stuck behind the full socket, not just late. */
const FULL_AFTER_MS = 2_000;

let peer: ScriptedPeer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await peer?.close();
  peer = undefined;
});

it('messages arriving while the server does not read leave the publishers waiting', async () => {
  let sid = '';
  let pubs = 0;
  peer = await startScriptedPeer(async (conn) => {
    conn.send(infoLine());
    for await (const line of conn.lines()) {
      if (line === 'PING') conn.send('PONG\r\n');
      else if (line.startsWith('PUB out ')) pubs++;
      else sid = /^SUB in (\d+)$/.exec(line)?.[1] ?? sid;
    }
  });
  const client = await new ConnectOptions().clientCapacity(16).connect(peer.url);
  clients.push(client);
  let received = 0;
  client.subscribe('in', {
    callback: () => {
      received++;
    },
  });
  await client.flush(); // the peer has read the SUB
  expect(sid).not.toBe('');
  const server = peer.connections[0].socket;
  server.pause();

  // Fill the kernel's buffers, the command ring, then the caller's queue. A publish may say
  // wait only because the worker has not caught up yet (a loaded host): publish on while
  // writable() resolves, until it has not for FULL_AFTER_MS, so that the socket is full.
  const payload = new Uint8Array(SIZE);
  let accepted = 0;
  let resumed: Promise<void> | undefined;
  while (accepted < MAX_MESSAGES) {
    if (client.publish('out', payload)) {
      accepted++;
      continue;
    }
    accepted++;
    resumed = client.writable();
    const late = await withTimeout(resumed, FULL_AFTER_MS, 'writable()').then(
      () => false,
      () => true,
    );
    if (late) break;
  }
  expect(accepted).toBeLessThan(MAX_MESSAGES);
  if (resumed === undefined) throw new Error('no publish said wait');

  // Each message comes in a socket chunk of its own; none may move the backlog on.
  for (let n = 1; n <= ARRIVING; n++) {
    server.write(`MSG in ${sid} 1\r\nx\r\n`);
    await waitFor(() => received === n, 5_000, `message ${n} delivered`);
  }
  expect(await settledYet(resumed)).toBe(false);

  server.resume();
  await withTimeout(resumed, 10_000, 'writable() once the server reads again');
  await withTimeout(client.flush(), 10_000, 'flush');
  expect(pubs).toBe(accepted);
});
