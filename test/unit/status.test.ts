import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/main/events.js';
import { READER_CAPACITY, StatusReaders } from '../../src/main/status.js';

const slow = (sid: number): Event => ({ type: 'slowConsumer', sid });

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
});
