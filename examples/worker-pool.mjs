// @ts-check
// A worker_threads pool: each worker has its own client and joins the queue group 'resize';
// the main thread sends requests, and each is served by exactly one worker.
// Run: node examples/worker-pool.mjs [url] [workers]
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';
import { connect } from 'nats-offload';

if (isMainThread) {
  const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const size = Number(process.argv[3] ?? 3);
  const workers = Array.from(
    { length: size },
    () => new Worker(new URL(import.meta.url), { workerData: { url } }),
  );
  // Each worker says when its subscription is with the server.
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));

  const nc = await connect(url);
  const servedBy = new Map();
  for (let i = 0; i < 30; i++) {
    const reply = await nc.request('resize', JSON.stringify({ image: i }));
    const { worker } = /** @type {{ worker: number }} */ (reply.json());
    servedBy.set(worker, (servedBy.get(worker) ?? 0) + 1);
  }
  console.log(`30 requests served by ${servedBy.size} worker(s) of ${size}`);
  await nc.close();
  for (const w of workers) w.postMessage('stop');
} else {
  const nc = await connect(workerData.url);
  nc.queueSubscribe('resize', 'pool', {
    callback: (msg) => {
      const { image } = /** @type {{ image: number }} */ (msg.json());
      msg.respond(JSON.stringify({ image, worker: threadId }));
    },
  });
  await nc.flush();
  parentPort?.postMessage('ready');
  parentPort?.once('message', () => nc.drain()); // the worker exits once its client is closed
}
