// @ts-check
// A cooperative publisher: publish() returns false once clientCapacity messages wait on this
// thread; await writable() then. Nothing is dropped; past maxPendingBytes publish throws.
// Run: node examples/back-pressure.mjs [url] [count]
import { connect } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const count = Number(process.argv[3] ?? 200_000);
const nc = await connect(url, { clientCapacity: 1024 });

const payload = new Uint8Array(512);
let waits = 0;
for (let i = 0; i < count; i++) {
  if (!nc.publish('telemetry.raw', payload)) {
    waits++;
    await nc.writable();
  }
}
await nc.flush(); // every message above is now with the server

console.log(`published ${nc.statistics().outMessages} of ${count}, waited ${waits} times`);
await nc.close();
