// The shared inbox's table of waiting requests (src/main/request-table.ts), an open-addressing
// table with deletion by backward shift: after any adds and deletes it answers as a Map would,
// including for ids that share home slots and probe runs that wrap past the table's end.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestTable } from '../../src/main/request-table.js';

interface Entry {
  readonly id: number;
}

/** Applies `ops` to a table and to a Map, checking that every lookup agrees. */
function agreeWithMap(ops: { add: boolean; id: number }[]): void {
  const table = new RequestTable<Entry>();
  const model = new Map<number, Entry>();
  for (const { add, id } of ops) {
    const held = model.get(id);
    if (add && held === undefined) {
      const entry = { id };
      table.add(entry);
      model.set(id, entry);
    } else if (!add) {
      expect(table.delete(held ?? { id })).toBe(held !== undefined);
      model.delete(id);
    }
    expect(table.size).toBe(model.size);
    for (const [key, entry] of model) expect(table.get(key)).toBe(entry);
    expect(table.get(id)).toBe(model.get(id));
  }
  expect(new Set(table.entries())).toEqual(new Set(model.values()));
}

describe('RequestTable', () => {
  it('answers as a Map after any adds and deletes, home slots shared and runs wrapping', () => {
    // Ids a multiple of 64 apart share a home slot of the smallest table (64 slots); ids near
    // 63 make runs that wrap to slot 0; larger ids make the table grow.
    const homes = fc.constantFrom(60, 61, 62, 63, 0, 1, 2, 3);
    const id = fc.oneof(
      fc.tuple(homes, fc.integer({ min: 0, max: 5 })).map(([home, k]) => home + 64 * k),
      fc.tuple(homes, fc.integer({ min: 0, max: 5 })).map(([home, k]) => home + 64 * k),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ add: fc.boolean(), id }), { maxLength: 200, size: 'max' }),
        (ops) => agreeWithMap(ops),
      ),
    );
  });

  it('keeps an entry whose probe run wrapped past the end when one before it leaves', () => {
    // 62 and 126 start at slot 62 (126 goes on to 63), 0 at slot 0: deleting 62 moves 126
    // back, and 0, past the wrap, must stay where its lookup starts.
    agreeWithMap([
      { add: true, id: 62 },
      { add: true, id: 126 },
      { add: true, id: 0 },
      { add: false, id: 62 },
    ]);
  });

  it('answers and times out a burst of requests in flight at once with a few reads each', () => {
    // Sequential ids fill one unbroken run of slots: a delete that shifted entries back as
    // far as the run's end read every request in flight (a burst of n took n² / 2 reads).
    const table = new RequestTable<Entry>();
    const burst = Array.from({ length: 20_000 }, (_, i) => ({ id: i + 1 }));
    for (const entry of burst) table.add(entry);
    const answered = burst.slice(0, 10_000);
    const late = burst.slice(10_000);
    const reads = slotReads(table, () => {
      for (const entry of answered) {
        expect(table.get(entry.id)).toBe(entry);
        expect(table.delete(entry)).toBe(true);
      }
      for (const entry of late.reverse()) expect(table.delete(entry)).toBe(true);
      expect(table.get(burst.length + 5)).toBeUndefined(); // a reply to no request
    });
    expect(table.size).toBe(0);
    expect(reads).toBeLessThan(4 * burst.length);
  });

  it('grows for a burst of requests and shrinks back once they are answered', () => {
    const table = new RequestTable<Entry>();
    const burst = Array.from({ length: 5_000 }, (_, i) => ({ id: i + 1 }));
    for (const entry of burst) table.add(entry);
    for (const entry of burst) expect(table.get(entry.id)).toBe(entry);
    for (const entry of burst.slice(0, -10)) expect(table.delete(entry)).toBe(true);
    // Steady traffic after the burst, 100 in flight answered in order, past two looks at shrinking.
    let next = burst.length + 1;
    const inFlight: Entry[] = [];
    for (let i = 0; i < 140_000; i++) {
      const entry = { id: next++ };
      table.add(entry);
      inFlight.push(entry);
      if (inFlight.length > 100) expect(table.delete(inFlight.shift() as Entry)).toBe(true);
    }
    for (const entry of [...burst.slice(-10), ...inFlight]) expect(table.get(entry.id)).toBe(entry);
    expect(table.size).toBe(110);
    // 5,000 entries took 16,384 slots; the steady traffic needs far fewer.
    expect(table.entries().length).toBe(110);
    expect(slotsOf(table)).toBeLessThanOrEqual(1024);
  });
});

function slotsOf(table: RequestTable<Entry>): number {
  return (table as unknown as { slots: unknown[] }).slots.length;
}

/** Counts the table's reads of its slots while `run` runs (its slot array is watched). */
function slotReads(table: RequestTable<Entry>, run: () => void): number {
  const inside = table as unknown as { slots: unknown[] };
  let reads = 0;
  const slots = inside.slots;
  inside.slots = new Proxy(slots, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  try {
    run();
  } finally {
    inside.slots = slots;
  }
  return reads;
}
