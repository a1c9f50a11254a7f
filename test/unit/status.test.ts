import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/main/events.js';
import { READER_CAPACITY, StatusReaders } from '../../src/main/status.js';

const slow = (sid: number): Event => ({ type: 'slowConsumer', sid });

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** A turn of the event loop: a WeakRef's target is kept until the job that made it ends. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('StatusReaders', () => {
  it('a reader that falls behind keeps the newest READER_CAPACITY events', async () => {
    const readers = new StatusReaders();
    const reader = readers.open();
    for (let i = 0; i < READER_CAPACITY + 10; i++) readers.push(slow(i));
    readers.end();
    const sids: number[] = [];
    for await (const e of reader) if (e.type === 'slowConsumer') sids.push(e.sid);
    expect(sids.length).toBe(READER_CAPACITY);
    expect(sids[0]).toBe(10);
    expect(sids.at(-1)).toBe(READER_CAPACITY + 9);
  });

  it('a reader opened after the end is done at once; one that returns stops receiving', async () => {
    const readers = new StatusReaders();
    const early = readers.open();
    await early.return?.();
    readers.push(slow(1));
    expect(await early.next()).toEqual({ value: undefined, done: true });
    readers.end();
    expect(await readers.open().next()).toEqual({ value: undefined, done: true });
  });

  it('a reader its user dropped unread is released with the events it held', async () => {
    const readers = new StatusReaders();
    const dropped = Array.from({ length: 10 }, () => new WeakRef(readers.open()));
    for (let i = 0; i < 100; i++) readers.push(slow(i));
    await turn();
    gc();
    expect(dropped.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });

  it('a dropped reader leaves the readers once collected, before any event comes', async () => {
    const readers = new StatusReaders();
    const kept = readers.open();
    for (let i = 0; i < 10; i++) readers.open();
    // biome-ignore lint/complexity/useLiteralKeys: the private set is what the registry prunes
    const refs = readers['readers'];
    expect(refs.size).toBe(11);
    await turn();
    gc();
    // FinalizationRegistry callbacks run in a task of their own after the collection.
    for (let i = 0; i < 100 && refs.size > 1; i++) await turn();
    expect(refs.size).toBe(1);
    readers.push(slow(1));
    expect(await kept.next()).toEqual({ value: slow(1), done: false });
  });

  it('a for-await loop nobody else holds keeps getting events', async () => {
    const readers = new StatusReaders();
    const got: Event[] = [];
    void (async () => {
      for await (const event of readers.open()) got.push(event);
    })();
    await turn();
    gc();
    await turn();
    readers.push(slow(7));
    await turn();
    gc();
    readers.push(slow(8));
    await turn();
    expect(got).toEqual([slow(7), slow(8)]);
  });

  it('next() asked again before an answer: each call gets its own event, in order; end ends all', async () => {
    const readers = new StatusReaders();
    const reader = readers.open();
    const first = reader.next();
    const second = reader.next();
    const third = reader.next();
    readers.push(slow(1));
    readers.push(slow(2));
    readers.end();
    expect(await first).toEqual({ value: slow(1), done: false });
    expect(await second).toEqual({ value: slow(2), done: false });
    expect(await third).toEqual({ value: undefined, done: true });
  });
});
