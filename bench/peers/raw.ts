/**
 * A bare NATS connection over a raw TCP socket, for the processes that stand on the other end
 * of a measurement (publisher, responder). They use no client library, so they cost both
 * clients the same and as little CPU as Node allows.
 */
import net from 'node:net';
import { encodeConnect } from '../../src/shared/protocol/encode.js';
import { type MsgView, Parser } from '../../src/shared/protocol/parser.js';

export interface RawConnection {
  socket: net.Socket;
  /** Sends `PING` and resolves at its `PONG`: everything written before it reached the server. */
  ping(): Promise<void>;
}

/**
 * Connects, sends CONNECT (with credentials from the URL) and `preamble` (e.g. a SUB), and
 * resolves once the server has answered a PING. `onMsg` sees each MSG, valid during the call;
 * what it writes to the socket goes out in one write per socket read (cork/uncork).
 */
export function rawConnect(
  url: string,
  preamble = '',
  onMsg: (msg: MsgView, socket: net.Socket) => void = () => {},
): Promise<RawConnection> {
  const target = new URL(url);
  const fields: Record<string, unknown> = { verbose: false, pedantic: false, lang: 'raw-bench' };
  if (target.username && target.password) {
    fields.user = decodeURIComponent(target.username);
    fields.pass = decodeURIComponent(target.password);
  } else if (target.username) {
    fields.auth_token = decodeURIComponent(target.username);
  }
  const pongs: (() => void)[] = [];
  const parser = new Parser({
    onMsg: (msg) => onMsg(msg, socket),
    onInfo() {},
    onPing: () => socket.write('PONG\r\n'),
    onPong: () => pongs.shift()?.(),
    onOk() {},
    onErr(message) {
      socket.destroy(new Error(`server -ERR '${message}'`));
    },
  });
  const socket = net.connect({ host: target.hostname, port: Number(target.port || 4222) });
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    socket.cork();
    parser.push(chunk);
    socket.uncork();
  });
  const connection: RawConnection = {
    socket,
    ping() {
      return new Promise((resolve) => {
        pongs.push(resolve);
        socket.write('PING\r\n');
      });
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`${url} closed the connection before its PONG`)));
    socket.write(encodeConnect(fields));
    if (preamble) socket.write(preamble);
    connection.ping().then(() => {
      socket.off('error', reject);
      // A peer whose connection breaks has nothing left to do; the measurement sees it exit.
      socket.once('error', (error) => {
        console.error(`peer connection failed: ${error.message}`);
        process.exit(1);
      });
      resolve(connection);
    });
  });
}

/** A peer ends with the process that forked it (also when that one is killed). */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(0));
}

/** The server's INFO (e.g. its `version`), read from a connection closed right after. */
export function rawInfo(url: string): Promise<Record<string, unknown>> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.hostname, port: Number(target.port || 4222) });
    const parser = new Parser({
      onMsg() {},
      onInfo(info) {
        socket.destroy();
        resolve(info);
      },
      onPing() {},
      onPong() {},
      onOk() {},
      onErr: (message) => socket.destroy(new Error(`server -ERR '${message}'`)),
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no INFO from ${url} within 5 s`)));
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (error) {
        socket.destroy(new Error(`${url} does not speak NATS`, { cause: error }));
      }
    });
    socket.once('error', reject);
    // After an error, or after INFO, this is a no-op: a promise settles once.
    socket.once('close', () => reject(new Error(`${url} closed the connection before its INFO`)));
  });
}
