import { describe, expect, it } from 'vitest';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';
import { Inbound } from '../../src/worker/inbound.js';
import { quietInboundEvents } from '../helpers/inbound-events.js';

describe('Inbound.credit.await', () => {
  it('is one wait however often it is asked, and calls back once the main thread releases', async () => {
    const buffers = createRingBuffers(1 << 16);
    const producer = new RingProducer(buffers);
    const consumer = new RingConsumer(buffers);
    const inbound = new Inbound(producer, 1000, quietInboundEvents());
    // Deliveries the main thread has not read: a flush ack per call, 8 bytes each.
    for (let i = 0; i < 1000; i++) inbound.flushAck(i);
    inbound.publish();
    expect(inbound.credit.behind).toBe(true);
    let calls = 0;
    for (let i = 0; i < 1000; i++) inbound.credit.await(() => calls++); // once per socket chunk
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(0); // nothing released yet
    while (consumer.next() >= 0) consumer.advance();
    consumer.release();
    // The wake crosses threads' wait queues: waited for, not timed (a loaded host is slow).
    for (let i = 0; i < 500 && calls === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toBe(1); // and only once
  });
});
