import { afterEach, describe, expect, it, vi } from 'vitest';
import { Message } from '../../src/main/message.js';
import { Subscriber, type SubscriptionOwner } from '../../src/main/subscriber.js';
import { STALL_MS } from '../../src/shared/stall.js';

function owner() {
  const unsubs: number[] = [];
  const o: SubscriptionOwner = {
    unsubscribe: (_sub, max) => {
      unsubs.push(max);
    },
    slowConsumer: () => {},
    dropped: () => {},
    drainSubscription: async () => {},
    callbackFailed: () => {},
    afterArrived: (run) => run(),
  };
  return { o, unsubs };
}

const msg = () =>
  new Message('s', undefined, Buffer.alloc(0), 0, 0, undefined, undefined, undefined, undefined);

describe('Subscriber.unsubscribeAfter', () => {
  it('tells the server a count it can parse (at most 9 digits)', async () => {
    const { o, unsubs } = owner();
    await new Subscriber(o, 1, 's', undefined, undefined, 10).unsubscribeAfter(999_999_999);
    expect(unsubs).toEqual([999_999_999]);
  });

  it('only lowers a limit already set: a higher one could reach the server after it ended it', async () => {
    const { o, unsubs } = owner();
    const sub = new Subscriber(o, 1, 's', undefined, () => {}, 10);
    await sub.unsubscribeAfter(3);
    await sub.unsubscribeAfter(6); // kept at 3: nothing sent
    await sub.unsubscribeAfter(2); // lowered
    expect(unsubs).toEqual([3, 2]);
    sub.push(msg());
    sub.push(msg());
    expect(sub.isClosed).toBe(true);
  });

  it('counts a larger limit itself and ends with a plain UNSUB', async () => {
    // nats-server reads `UNSUB 1 1000000000` as "unsubscribe now": the subscription would
    // never deliver, and an iterator over it never end.
    const { o, unsubs } = owner();
    const sub = new Subscriber(o, 1, 's', undefined, () => {}, 10);
    await sub.unsubscribeAfter(2 ** 31 - 1);
    expect(unsubs).toEqual([]);
    sub.delivered = 2 ** 31 - 3;
    sub.push(msg());
    expect(sub.isClosed).toBe(false);
    sub.push(msg());
    expect(sub.isClosed).toBe(true);
    expect(unsubs).toEqual([0]);
  });

  it('ends an iterator at a larger limit after its last message', async () => {
    const { o, unsubs } = owner();
    const sub = new Subscriber(o, 1, 's', undefined, undefined, 10);
    await sub.unsubscribeAfter(1_000_000_000);
    sub.delivered = 1_000_000_000 - 1;
    sub.push(msg());
    const it = sub[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    expect((await it.next()).done).toBe(true);
    expect(unsubs).toEqual([0]);
  });
});

describe('Subscriber.drain', () => {
  it('sends one UNSUB however often drain() and unsubscribe() are called meanwhile', async () => {
    const drains: Subscriber[] = [];
    let flushed!: () => void;
    const flush = new Promise<void>((resolve) => {
      flushed = resolve;
    });
    const { o, unsubs } = owner();
    o.drainSubscription = async (sub) => {
      drains.push(sub);
      o.unsubscribe(sub, 0);
      await flush; // the flush that confirms the UNSUB
      sub.end();
    };
    const sub = new Subscriber(o, 1, 's', undefined, () => {}, 10);
    const first = sub.drain();
    const second = sub.drain();
    await sub.unsubscribe();
    flushed();
    await Promise.all([first, second]);
    expect(drains).toHaveLength(1);
    expect(unsubs).toEqual([0]);
  });
});

describe('Subscriber iteration', () => {
  const named = (subject: string) =>
    new Message(
      subject,
      undefined,
      Buffer.alloc(0),
      0,
      0,
      undefined,
      undefined,
      undefined,
      undefined,
    );

  it('next() calls waiting at once get the messages in call order, and all settle at the end', async () => {
    const { o } = owner();
    const sub = new Subscriber(o, 1, 's', undefined, undefined, 10);
    const it = sub[Symbol.asyncIterator]();
    const first = it.next();
    const second = it.next();
    const third = it.next();
    const fourth = it.next();
    sub.push(named('one'));
    sub.push(named('two'));
    expect((await first).value?.subject).toBe('one');
    expect((await second).value?.subject).toBe('two');
    sub.end();
    expect(await third).toEqual({ value: undefined, done: true });
    expect(await fourth).toEqual({ value: undefined, done: true });
  });
});

describe('an iterator whose reader stalls', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports one slowConsumer per episode: until its reader empties the queue, not at each gap', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let events = 0;
    let dropped = 0;
    const o: SubscriptionOwner = {
      ...owner().o,
      slowConsumer: () => {
        events++;
      },
      dropped: () => {
        dropped++;
      },
    };
    const sub = new Subscriber(o, 1, 's', undefined, undefined, 2);
    const it = sub[Symbol.asyncIterator]();
    /** A message that finds the queue full once the reader has taken none for STALL_MS. */
    const pushStalled = () => {
      expect(sub.push(msg())).toBe(false); // waits for the reader
      vi.advanceTimersByTime(STALL_MS);
      expect(sub.push(msg())).toBe(true); // dropped
    };
    sub.push(msg());
    sub.push(msg());
    pushStalled();
    expect([events, dropped]).toEqual([1, 1]);
    // A reader that takes one now and then, each time after it stalled: one episode.
    for (let round = 0; round < 5; round++) {
      await it.next();
      sub.push(msg()); // fits in the gap the reader left
      pushStalled();
    }
    expect([events, dropped]).toEqual([1, 6]);
    // The reader catches up: the next stall is a new episode.
    await it.next();
    await it.next();
    sub.push(msg());
    sub.push(msg());
    pushStalled();
    expect([events, dropped]).toEqual([2, 7]);
  });
});

describe('a full iterator whose reader is moving (DESIGN.md principle 3)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps what does not fit waiting while its reader takes one within STALL_MS, then drops', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let dropped = 0;
    let events = 0;
    const o: SubscriptionOwner = {
      ...owner().o,
      slowConsumer: () => {
        events++;
      },
      dropped: () => {
        dropped++;
      },
    };
    const sub = new Subscriber(o, 1, 's', undefined, undefined, 2);
    const it = sub[Symbol.asyncIterator]();
    sub.push(msg());
    sub.push(msg());
    let resumed = 0;
    expect(sub.push(msg())).toBe(false); // full: waits for the reader
    sub.whenRead(() => {
      resumed++;
    });
    vi.advanceTimersByTime(STALL_MS - 1);
    expect(sub.push(msg())).toBe(false); // still within STALL_MS of finding it full
    await it.next(); // the reader takes one: the dispatcher goes on, the clock starts again
    expect(resumed).toBe(1);
    expect(sub.push(msg())).toBe(true);
    expect(sub.push(msg())).toBe(false);
    vi.advanceTimersByTime(STALL_MS); // no take for STALL_MS: stalled
    expect(sub.stallIn()).toBe(0);
    expect(sub.push(msg())).toBe(true);
    expect([dropped, events]).toEqual([1, 1]);
  });

  it('lets a waiting dispatcher go on when the subscription ends', () => {
    const sub = new Subscriber(owner().o, 1, 's', undefined, undefined, 1);
    sub.push(msg());
    expect(sub.push(msg())).toBe(false);
    let resumed = 0;
    sub.whenRead(() => {
      resumed++;
    });
    sub.end();
    expect(resumed).toBe(1);
    expect(sub.push(msg())).toBe(true); // skipped: the subscription has ended
  });
});
