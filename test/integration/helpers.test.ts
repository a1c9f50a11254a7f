import { once } from 'node:events';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { freePort, startCluster, startServer, stopAll } from '../helpers/nats-server.js';
import { infoLine, type PeerConnection, startScriptedPeer } from '../helpers/scripted-peer.js';

afterAll(stopAll);

// A raw protocol client: enough to read what a server sends without the library under test.
async function rawClient(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.setEncoding('latin1');
  let buffer = '';
  const waiting: { predicate: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const lines: string[] = [];
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let end = buffer.indexOf('\r\n');
    while (end !== -1) {
      lines.push(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\r\n');
    }
    for (const w of [...waiting]) {
      const hit = lines.find(w.predicate);
      if (hit !== undefined) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  return {
    socket,
    send: (text: string) => socket.write(text),
    /** The first line received so far, or later, that matches. */
    line(predicate: (l: string) => boolean): Promise<string> {
      const hit = lines.find(predicate);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve) => waiting.push({ predicate, resolve }));
    },
    close: () => socket.destroy(),
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startServer', () => {
  it('starts a server that greets a raw client with INFO, and stop() removes it', async () => {
    const server = await startServer();
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(isAlive(server.pid)).toBe(true);
    expect(existsSync(server.configPath)).toBe(true);

    const client = await rawClient(server.port);
    const info = JSON.parse((await client.line((l) => l.startsWith('INFO '))).slice(5));
    expect(info.version).toBe('2.9.10');
    expect(info.port).toBe(server.port);
    client.close();

    const pid = server.pid;
    await server.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(server.dir)).toBe(false);
    await server.stop();
  });

  it('appends the extra config text', async () => {
    const server = await startServer({ config: 'authorization { token: s3cret }' });
    try {
      const client = await rawClient(server.port);
      const info = JSON.parse((await client.line((l) => l.startsWith('INFO '))).slice(5));
      expect(info.auth_required).toBe(true);
      client.close();
    } finally {
      await server.stop();
    }
  });

  it('restarts on the same port with a new process', async () => {
    const server = await startServer();
    try {
      const firstPid = server.pid;
      await server.restart?.();
      expect(server.pid).not.toBe(firstPid);
      expect(isAlive(firstPid)).toBe(false);
      const client = await rawClient(server.port);
      await client.line((l) => l.startsWith('INFO '));
      client.close();
    } finally {
      await server.stop();
    }
  });

  it('rejects with the log tail when the config is invalid', async () => {
    await expect(startServer({ config: 'this is { not config' })).rejects.toThrow(/log tail/);
  });

  it('honours a requested port', async () => {
    const port = await freePort();
    const server = await startServer({ port });
    try {
      expect(server.port).toBe(port);
      expect(server.url).toBe(`nats://127.0.0.1:${port}`);
    } finally {
      await server.stop();
    }
  });
});

describe('startCluster', () => {
  it('forms a 3-node cluster that routes messages between nodes', async () => {
    const servers = await startCluster(3);
    try {
      expect(servers).toHaveLength(3);
      expect(new Set(servers.map((s) => s.port)).size).toBe(3);

      const sub = await rawClient(servers[0].port);
      sub.send('CONNECT {"verbose":false}\r\nSUB greet 1\r\nPING\r\n');
      await sub.line((l) => l === 'PONG');

      // Interest reaches the other nodes asynchronously; publish until the first copy arrives.
      const pub = await rawClient(servers[2].port);
      pub.send('CONNECT {"verbose":false}\r\n');
      const received = sub.line((l) => l.startsWith('MSG greet 1'));
      const timer = setInterval(() => pub.send('PUB greet 5\r\nhello\r\n'), 50);
      try {
        expect(await received).toBe('MSG greet 1 5');
      } finally {
        clearInterval(timer);
        sub.close();
        pub.close();
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
    for (const s of servers) expect(existsSync(s.dir)).toBe(false);
  });
});

describe('startScriptedPeer', () => {
  it('sends INFO, reads the client lines and numbers connections', async () => {
    const peer = await startScriptedPeer(async (conn) => {
      conn.send(infoLine({ port: peer.port }));
      await conn.nextLine((l) => l === 'PING');
      conn.send('PONG\r\n');
    });
    try {
      const first = await rawClient(peer.port);
      const info = JSON.parse((await first.line((l) => l.startsWith('INFO '))).slice(5));
      expect(info).toMatchObject({ version: '2.9.10', proto: 1, headers: true, port: peer.port });
      first.send('CONNECT {}\r\nPING\r\n');
      await first.line((l) => l === 'PONG');

      const second = await rawClient(peer.port);
      await second.line((l) => l.startsWith('INFO '));
      expect(peer.connections.map((c) => c.index)).toEqual([0, 1]);
      second.close();
      first.close();
    } finally {
      await peer.close();
    }
  });

  it('iterates lines split across writes and ends when the client goes away', async () => {
    const collected = deferred<string[]>();
    const peer = await startScriptedPeer(async (conn) => {
      const seen: string[] = [];
      for await (const line of conn.lines()) seen.push(line);
      collected.resolve(seen);
    });
    try {
      const client = await rawClient(peer.port);
      client.send('SUB a 1\r');
      client.send('\nPUB a 3\r\nhé\r\n');
      // end(), not destroy(): the peer must receive every byte before the FIN.
      client.socket.end();
      expect(await collected.promise).toEqual(['SUB a 1', 'PUB a 3', 'hé']);
    } finally {
      await peer.close();
    }
  });

  it('rejects nextLine on timeout and close() reports the failed script', async () => {
    const peer = await startScriptedPeer(async (conn) => {
      await conn.nextLine((l) => l === 'never', 50);
    });
    const client = await rawClient(peer.port);
    client.send('PING\r\n');
    await once(client.socket, 'close');
    const err = await peer.close().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/script for connection 0 failed/);
    expect(((err as Error).cause as Error).message).toMatch(
      /50 ms passed; last skipped: \["PING"\]/,
    );
  });

  it('close() destroys open sockets', async () => {
    const accepted = deferred<PeerConnection>();
    const peer = await startScriptedPeer((conn) => accepted.resolve(conn));
    const client = await rawClient(peer.port);
    const closed = once(client.socket, 'close');
    await accepted.promise;
    await peer.close();
    await closed;
  });
});

describe('runNodeScript', () => {
  it('reports the exit code and output', async () => {
    const result = await runNodeScript(
      "process.stdout.write('out'); process.stderr.write('err'); process.exitCode = 3;",
    );
    expect(result).toMatchObject({ code: 3, signal: null, stdout: 'out', stderr: 'err' });
    expect(result.timedOut).toBe(false);
  });

  it('kills a script that does not exit by itself', async () => {
    const result = await runNodeScript('setInterval(() => {}, 1000);', { timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    expect(result.durationMs).toBeGreaterThanOrEqual(250);
  });
});
