// Reading back the sizes of the PUB/HPUB ops the encoder writes (src/shared/protocol/pub-sizes.ts):
// what the worker checks against a smaller max_payload than the one publishes were checked by.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hpubLength, pubLength, writeHpub, writePub } from '../../src/shared/protocol/encode.js';
import { pubAt, pubReplyAt, pubsFor } from '../../src/shared/protocol/pub-sizes.js';

const encoder = new TextEncoder();
const headerBlock = (n: number) => encoder.encode(`NATS/1.0\r\nA: ${'h'.repeat(n)}\r\n\r\n`);

/** Ops back to back as the publisher writes them; each op's size as the server checks it. */
function ops(specs: { size: number; header: number; reply: boolean; pad: number; n?: number }[]) {
  const parts: Uint8Array[] = [];
  for (const { size, header, reply, pad, n = 1 } of specs) {
    const payload = new Uint8Array(size).fill(0x2e);
    const r = reply ? `_INBOX.x.${n.toString(36)}` : undefined;
    if (header > 0) {
      const block = headerBlock(header);
      const op = new Uint8Array(hpubLength(4, r ? r.length : 0, block.length, size));
      writeHpub(op, 0, 'subj', r, block, payload);
      parts.push(op);
    } else {
      const op = new Uint8Array(pubLength(4, r ? r.length : 0, size, pad));
      writePub(op, 0, 'subj', r, payload, pad);
      parts.push(op);
    }
  }
  return Buffer.concat(parts);
}

const spec = fc.record({
  size: fc.integer({ min: 0, max: 3000 }),
  header: fc.constantFrom(0, 0, 5, 40),
  reply: fc.boolean(),
  pad: fc.nat(7),
});

describe('pubAt / pubsFor', () => {
  it("reads a PUB's payload length and an HPUB's total length, across padding", () => {
    const wire = ops([
      { size: 12, header: 0, reply: false, pad: 5 },
      { size: 7, header: 3, reply: true, pad: 0 },
    ]);
    const first = pubAt(wire, 0);
    expect(first.size).toBe(12);
    const second = pubAt(wire, first.end);
    expect(second.size).toBe(7 + headerBlock(3).length);
    expect(second.end).toBe(wire.length);
  });

  it('keeps, in order, exactly the ops at most the limit; null when all fit', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 12 }), fc.nat(3100), (specs, pick) => {
        const sizes = specs.map((s) => s.size + (s.header > 0 ? headerBlock(s.header).length : 0));
        const wire = ops(specs);
        // Often exactly an op's size: the bound is inclusive.
        const limit = pick % 2 === 0 ? pick : sizes[pick % specs.length];
        const result = pubsFor(wire, limit, true);
        const fits = specs.filter((_, i) => sizes[i] <= limit);
        if (fits.length === specs.length) {
          expect(result).toBeNull();
          return;
        }
        expect(result?.tooLarge).toBe(specs.length - fits.length);
        expect(result?.withHeaders).toBe(0);
        expect(Buffer.concat(result?.kept ?? [])).toEqual(ops(fits));
      }),
    );
  });

  it('for a server without headers, also leaves out every HPUB, counted apart', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 12 }), fc.nat(3100), (specs, limit) => {
        const sizes = specs.map((s) => s.size + (s.header > 0 ? headerBlock(s.header).length : 0));
        const result = pubsFor(ops(specs), limit, false);
        const withHeaders = specs.filter((s) => s.header > 0).length;
        const tooLarge = specs.filter((s, i) => s.header === 0 && sizes[i] > limit).length;
        if (withHeaders + tooLarge === 0) {
          expect(result).toBeNull();
          return;
        }
        expect([result?.tooLarge, result?.withHeaders]).toEqual([tooLarge, withHeaders]);
        const kept = specs.filter((s) => s.header === 0 && s.size <= limit);
        expect(Buffer.concat(result?.kept ?? [])).toEqual(ops(kept));
      }),
    );
  });

  it('says where each op left out starts, why, and its reply subject when it has one', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 12 }),
        fc.nat(3100),
        fc.boolean(),
        (specs, limit, headers) => {
          const sizes = specs.map(
            (s) => s.size + (s.header > 0 ? headerBlock(s.header).length : 0),
          );
          const wire = ops(specs.map((s, i) => ({ ...s, n: i + 1 })));
          const result = pubsFor(wire, limit, headers);
          const expected = specs.flatMap((s, i) => {
            const withHeaders = !headers && s.header > 0;
            if (!withHeaders && sizes[i] <= limit) return [];
            return [
              { withHeaders, reply: s.reply ? `_INBOX.x.${(i + 1).toString(36)}` : undefined },
            ];
          });
          const found = (result?.refused ?? []).map(({ at, withHeaders }) => {
            const reply = pubReplyAt(wire, at);
            return {
              withHeaders,
              reply: reply && Buffer.from(wire.subarray(reply[0], reply[1])).toString(),
            };
          });
          expect(found).toEqual(expected);
        },
      ),
    );
  });
});
