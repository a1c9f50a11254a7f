/** Starts a peer process (publisher or responder) from a measurement process. */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface Peer {
  /** Its process id, for reading its CPU time. */
  readonly pid: number;
  /** Tells a peer that waits for it (the flood publisher) to start. */
  go(): void;
  /** Rejects if the peer exits with an error or is killed; never resolves. */
  readonly failed: Promise<never>;
  /** Resolves when the peer has exited on its own with code 0. */
  readonly finished: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Forks `dist/bench/peers/<name>.js` with `args`. With `waitReady`, resolves only once the
 * peer has sent `'ready'` (the responder's subscription is registered, the publisher is
 * connected and waits for {@link Peer.go}).
 */
export async function startPeer(
  name: 'flood' | 'responder',
  args: (string | number)[],
  waitReady = false,
): Promise<Peer> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL(`./${name}.js`, import.meta.url)),
    args.map(String),
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] },
  );
  let stopping = false;
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  const finished = exit.then((code) => {
    if (code !== 0 && !stopping) throw new Error(`peer ${name} exited with code ${code}`);
  });
  finished.catch(() => {}); // reported through `failed` to whoever races it
  // A clean exit is not a failure: then `failed` stays pending.
  const failed = finished.then(() => new Promise<never>(() => {}));
  failed.catch(() => {});
  const peer: Peer = {
    pid: child.pid ?? -1,
    go: () => child.send('go'),
    failed,
    finished,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
        await exit;
      }
    },
  };
  if (waitReady) {
    const ready = once(child, 'message').then(([message]) => {
      if (message !== 'ready') throw new Error(`peer ${name} said ${String(message)}`);
    });
    try {
      const early = finished.then(() => {
        throw new Error(`peer ${name} exited before it was ready`);
      });
      await Promise.race([ready, early]);
    } catch (error) {
      await peer.stop();
      throw error;
    }
  }
  return peer;
}
