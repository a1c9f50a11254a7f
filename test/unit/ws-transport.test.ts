// The WebSocket transport (src/worker/ws-transport.ts) against an in-process `ws` server whose
// behaviour each test scripts: what arrives with the upgrade, while paused, in many messages,
// and what a full write buffer and a refused dial look like.

import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { NatsError } from '../../src/shared/errors.js';
import { parseServerUrl } from '../../src/shared/servers.js';
import type { Transport, TransportHandlers } from '../../src/worker/transport.js';
import { wsTransports } from '../../src/worker/ws-transport.js';
import { waitFor } from '../helpers/wait.js';

const servers: WebSocketServer[] = [];
const transports: Transport[] = [];

afterEach(async () => {
  for (const t of transports.splice(0)) t.destroy();
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A WebSocket server on loopback that hands each connection to `onConnection`. */
async function serve(
  onConnection: (peer: WebSocket, request?: IncomingMessage) => void,
): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  server.on('connection', onConnection);
  await once(server, 'listening');
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Dialled {
  transport: Transport;
  ready: Promise<void>;
  received: string[];
  drains: number;
  closed: Promise<NatsError | undefined>;
}

function dial(url: string, onData?: (text: string, d: Dialled) => void): Dialled {
  let closedWith!: (error: NatsError | undefined) => void;
  const d = {
    received: [] as string[],
    drains: 0,
    closed: new Promise<NatsError | undefined>((resolve) => {
      closedWith = resolve;
    }),
  } as Dialled;
  const handlers: TransportHandlers = {
    data: (chunk) => {
      const text = Buffer.from(chunk).toString('latin1');
      d.received.push(text);
      onData?.(text, d);
    },
    drain: () => {
      d.drains++;
    },
    closed: (error) => closedWith(error),
  };
  const { transport, ready } = wsTransports({}, undefined)(parseServerUrl(url), handlers);
  transports.push(transport);
  d.transport = transport;
  d.ready = ready;
  return d;
}

describe('ws transport', () => {
  it('hands on nothing before ready has settled, even what came with the upgrade', async () => {
    const url = await serve((peer) => peer.send(Buffer.from('INFO {}\r\n')));
    let settled = false;
    let dataBeforeReady = false;
    const d = dial(url, () => {
      if (!settled) dataBeforeReady = true;
    });
    await d.ready.then(() => {
      settled = true;
    });
    await waitFor(() => d.received.length === 1, 5_000, 'the INFO');
    expect(dataBeforeReady).toBe(false);
    expect(d.received).toEqual(['INFO {}\r\n']);
  });

  it('holds messages while paused and hands them on in order after resume, on a later turn', async () => {
    let peer!: WebSocket;
    const url = await serve((p) => {
      peer = p;
    });
    // Pausing from inside a delivery, as the receive policy does when the backlog fills.
    const d = dial(url, (text, self) => {
      if (text === 'pause-me') self.transport.pause();
    });
    await d.ready;
    for (const text of ['pause-me', 'a', 'b', 'c']) peer.send(Buffer.from(text));
    await waitFor(() => d.received.length >= 1, 5_000, 'the first message');
    // Whatever else arrives stays held: give the socket time to bring it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(d.received).toEqual(['pause-me']);
    d.transport.resume();
    // As TCP's: the receive policy resumes from inside its own bookkeeping, where a delivery
    // would re-enter the session.
    expect(d.received).toEqual(['pause-me']);
    await waitFor(() => d.received.length === 4, 5_000, 'the held messages');
    expect(d.received).toEqual(['pause-me', 'a', 'b', 'c']);
  });

  it('sends chunks of a gathered write as one message, says when its buffer is full, then drains', async () => {
    const messages: Buffer[] = [];
    const url = await serve((p) => p.on('message', (m: Buffer) => messages.push(m)));
    const d = dial(url);
    await d.ready;
    const big = new Uint8Array(256 * 1024).fill(0x61);
    const writable = d.transport.writeAll([Buffer.from('PUB x 262144\r\n'), big]);
    expect(writable).toBe(false);
    await waitFor(() => d.drains === 1, 5_000, 'drain');
    await waitFor(() => messages.length === 1, 5_000, 'the message at the server');
    expect(messages[0].length).toBe(14 + big.length);
  });

  it('asks for the path of the URL', async () => {
    let path: string | undefined;
    const url = await serve((_peer, request) => {
      path = request?.url;
    });
    await dial(`${url}/nats/ws?x=1`).ready;
    await waitFor(() => path !== undefined, 5_000, 'the upgrade request');
    expect(path).toBe('/nats/ws?x=1');
  });

  it('rejects a refused dial with kind io and reports the close once', async () => {
    const url = await serve(() => {});
    const port = new URL(url).port;
    await new Promise((resolve) => servers.splice(0)[0].close(resolve));
    const d = dial(`ws://127.0.0.1:${port}`);
    const error = await d.ready.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).kind).toBe('io');
    expect((await d.closed)?.kind).toBe('io');
  });
});
