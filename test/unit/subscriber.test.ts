import { describe, expect, it } from 'vitest';
import { Message } from '../../src/main/message.js';
import { HeldSlabs, Subscriber, type SubscriptionOwner } from '../../src/main/subscriber.js';

function owner() {
  const unsubs: number[] = [];
  const o: SubscriptionOwner = {
    isClosed: () => false,
    unsubscribe: (_sub, max) => {
      unsubs.push(max);
    },
    slowConsumer: () => {},
    dropped: () => {},
    drainSubscription: async () => {},
    callbackFailed: () => {},
    callbackStarted: () => {},
    callbackSettled: () => {},
    afterArrived: (run) => run(),
    heldSlabs: new HeldSlabs(),
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

describe('an iterator that falls behind', () => {
  it('reports one slowConsumer per episode: until its reader empties the queue, not at each gap', async () => {
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
    for (let i = 0; i < 3; i++) sub.push(msg()); // the third drops
    expect([events, dropped]).toEqual([1, 1]);
    // A reader that takes one at a time while more arrive than it takes: one episode.
    for (let round = 0; round < 5; round++) {
      await it.next();
      sub.push(msg()); // fits in the gap the reader left
      sub.push(msg()); // drops
    }
    expect([events, dropped]).toEqual([1, 6]);
    // The reader catches up: the next overflow is a new episode.
    await it.next();
    await it.next();
    for (let i = 0; i < 3; i++) sub.push(msg());
    expect([events, dropped]).toEqual([2, 7]);
  });
});

describe('an iterator queue and the slabs its messages arrived in', () => {
  const SLAB = 256 * 1024;
  /** 64 MiB of slabs: what one queue may keep alive. */
  const SLABS_HELD = (64 * 1024 * 1024) / SLAB;

  /** A message whose 8-byte payload, starting with `tag`, lies in `slab` at `at`. */
  function inSlab(slab: Buffer<ArrayBuffer>, at: number, tag: number): Message {
    slab[at] = tag;
    return new Message('s', undefined, slab, at, 8, undefined, undefined, undefined, undefined);
  }
  const newSlab = () => Buffer.allocUnsafeSlow(SLAB);

  async function take(sub: Subscriber, n: number): Promise<number[]> {
    const it = sub[Symbol.asyncIterator]();
    const tags: number[] = [];
    for (let i = 0; i < n; i++) tags.push(((await it.next()).value as Message).payload[0]);
    return tags;
  }

  it('keeps at most 64 MiB of them alive: past that, a message is queued with its own copy', async () => {
    // A subscription that gets one message in thousands: each would keep a slab of its own.
    const sub = new Subscriber(owner().o, 1, 's', undefined, undefined, 100_000);
    const messages = Array.from({ length: SLABS_HELD + 40 }, (_, i) => inSlab(newSlab(), 0, i));
    for (const m of messages) sub.push(m);
    const held = messages.filter((m) => m.sharedMemory() !== undefined);
    expect(held.length).toBe(SLABS_HELD);
    expect(messages.slice(SLABS_HELD).every((m) => m.sharedMemory() === undefined)).toBe(true);
    // Nothing lost, every payload intact.
    expect(await take(sub, messages.length)).toEqual(messages.map((_, i) => i & 0xff));
  });

  it('shares the 64 MiB among all the iterators of a client', () => {
    const shared = owner().o; // one client
    const first = new Subscriber(shared, 1, 's', undefined, undefined, 100_000);
    const second = new Subscriber(shared, 2, 's', undefined, undefined, 100_000);
    const one = Array.from({ length: SLABS_HELD / 2 }, (_, i) => inSlab(newSlab(), 0, i));
    const two = Array.from({ length: SLABS_HELD }, (_, i) => inSlab(newSlab(), 0, i));
    for (const m of one) first.push(m);
    for (const m of two) second.push(m);
    const held = (ms: Message[]) => ms.filter((m) => m.sharedMemory() !== undefined).length;
    expect(held(one) + held(two)).toBe(SLABS_HELD);
    // A subscription that ends gives its part back (its queue may never be read).
    first.end();
    const after = inSlab(newSlab(), 0, 2);
    second.push(after);
    expect(after.sharedMemory()).toBeDefined();
    // Another client has a budget of its own.
    const other = new Subscriber(owner().o, 3, 's', undefined, undefined, 100_000);
    const three = inSlab(newSlab(), 0, 1);
    other.push(three);
    expect(three.sharedMemory()).toBeDefined();
  });

  it('counts a slab once for a run of messages in it, and lets it go after the run', async () => {
    const sub = new Subscriber(owner().o, 1, 's', undefined, undefined, 100_000);
    const shared = newSlab();
    const run = Array.from({ length: 1000 }, (_, i) => inSlab(shared, 8 * i, i));
    for (const m of run) sub.push(m);
    const others = Array.from({ length: SLABS_HELD - 1 }, (_, i) => inSlab(newSlab(), 0, i));
    for (const m of others) sub.push(m);
    expect([...run, ...others].every((m) => m.sharedMemory() !== undefined)).toBe(true);
    // The bound is reached: the next slab is not kept...
    const over = inSlab(newSlab(), 0, 1);
    sub.push(over);
    expect(over.sharedMemory()).toBeUndefined();
    // ...until the run's last message has left the queue.
    await take(sub, 999);
    const still = inSlab(newSlab(), 0, 2);
    sub.push(still);
    expect(still.sharedMemory()).toBeUndefined();
    await take(sub, 1);
    const kept = inSlab(newSlab(), 0, 3);
    sub.push(kept);
    expect(kept.sharedMemory()).toBeDefined();
  });
});

describe('the byte bound of an iterator queue', () => {
  it('counts header blocks and subjects of their own, not only payloads', async () => {
    let dropped = 0;
    const o: SubscriptionOwner = {
      ...owner().o,
      dropped: () => {
        dropped++;
      },
    };
    const sub = new Subscriber(o, 1, 's', undefined, undefined, 100_000);
    // Empty payloads with 1 MiB of headers each: 64 fit in 64 MiB, the rest drop.
    for (let i = 0; i < 100; i++) sub.push(msg(), false, 1024 * 1024);
    expect(dropped).toBe(36);
    // Each leaves the bound as it leaves the queue.
    const it = sub[Symbol.asyncIterator]();
    await it.next();
    sub.push(msg(), false, 1024 * 1024);
    expect(dropped).toBe(36);
    sub.push(msg(), false, 1024 * 1024);
    expect(dropped).toBe(37);
  });
});
