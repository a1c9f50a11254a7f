// The dispatcher goes back to sleep on the delivery ring only after what its callbacks set
// going has run: a request's caller resumes (and may send its next request) before the
// dispatcher pays for arming its wait, and a message published meanwhile is still seen.

import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/main/dispatcher.js';
import { Subscriber } from '../../src/main/subscriber.js';
import { RING_CONSUMER_SLEEP } from '../../src/shared/layout.js';
import type { MsgView } from '../../src/shared/protocol/parser.js';
import { createRingBuffers, headerOf } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';
import { Inbound } from '../../src/worker/inbound.js';
import { newSubscription } from '../../src/worker/subscriptions.js';
import { quietInboundEvents } from '../helpers/inbound-events.js';
import { waitFor } from '../helpers/wait.js';

const SUBJECT = 'reply.subject';

function message(): MsgView {
  const wire = Buffer.from(`MSG ${SUBJECT} 1 2\r\nok\r\n`, 'latin1');
  const buf = new Uint8Array(wire.buffer, wire.byteOffset, wire.length);
  const start = wire.length - 4;
  return {
    buf,
    subjectStart: 4,
    subjectEnd: 4 + SUBJECT.length,
    sid: 1,
    replyStart: start,
    replyEnd: start,
    headerStart: start,
    headerEnd: start,
    payloadStart: start,
    payloadEnd: start + 2,
  } as MsgView;
}

const owner = {
  unsubscribe() {},
  slowConsumer() {},
  dropped() {},
  drainSubscription: () => Promise.resolve(),
  callbackFailed() {},
};

describe('Dispatcher sleep', () => {
  it('arms its wait after the microtasks its callbacks queued, and still sees what comes next', async () => {
    const buffers = createRingBuffers(1 << 16);
    const header = headerOf(buffers);
    const asleep = () => (Atomics.load(header, RING_CONSUMER_SLEEP) & 1) === 1;
    const inbound = new Inbound(new RingProducer(buffers), 1000, quietInboundEvents());
    const subscription = newSubscription(1, SUBJECT, undefined);
    const sleepingWhenCallerRan: boolean[] = [];
    const callback = () => {
      // A caller awaiting a request resumes a few microtasks after its reply is routed.
      void Promise.resolve()
        .then(() => undefined)
        .then(() => undefined)
        .then(() => sleepingWhenCallerRan.push(asleep()));
    };
    const subscriber = new Subscriber(owner, 1, SUBJECT, undefined, callback, 1);
    const dispatcher = new Dispatcher(new RingConsumer(buffers), {
      subscription: () => subscriber,
      flushAcked() {},
      deliveryError(error) {
        throw error;
      },
    });
    inbound.deliver(message(), subscription);
    inbound.publish();
    dispatcher.start();
    await waitFor(() => sleepingWhenCallerRan.length === 1, 5_000, 'the first caller');
    await waitFor(asleep, 5_000, 'the dispatcher asleep');
    inbound.deliver(message(), subscription);
    inbound.publish();
    await waitFor(() => sleepingWhenCallerRan.length === 2, 5_000, 'the second caller');
    dispatcher.stop();
    expect(sleepingWhenCallerRan).toEqual([false, false]);
  });
});
