// Message reads its payload straight from the memory it arrived in (a slab shared with other
// messages) without making a view of it: string() must decode exactly as TextDecoder does
// (replacement characters, a leading byte order mark dropped) at any offset of the slab, and
// payload must still be a copy whose buffer holds these bytes alone.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Message } from '../../src/main/message.js';

/** `bytes` at `offset` of a larger slab, with other bytes around them, as the dispatcher has it. */
function inSlab(bytes: Uint8Array, offset: number): Message {
  const slab = Buffer.allocUnsafeSlow(offset + bytes.length + 16).fill(0xc3);
  slab.set(bytes, offset);
  return new Message(
    's',
    undefined,
    slab,
    offset,
    bytes.length,
    undefined,
    undefined,
    undefined,
    undefined,
  );
}

/** Bytes that are often UTF-8, sometimes broken, sometimes with a byte order mark first. */
const payloads = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 32 }).map((s) => new Uint8Array(Buffer.from(s))),
  fc.uint8Array({ maxLength: 16 }).map((rest) => Uint8Array.from([0xef, 0xbb, 0xbf, ...rest])),
);

describe('Message', () => {
  it('decodes string() as TextDecoder does, at any offset of the memory it arrived in', () => {
    const decoder = new TextDecoder();
    fc.assert(
      fc.property(payloads, fc.nat(40), (bytes, offset) => {
        const msg = inSlab(bytes, offset);
        expect(msg.string()).toBe(decoder.decode(bytes));
        expect(msg.length).toBe(bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('drops a leading byte order mark, as TextDecoder does, so json() reads such a payload', () => {
    const msg = inSlab(Uint8Array.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"a":1}')]), 5);
    expect(msg.string()).toBe('{"a":1}');
    expect(msg.json()).toEqual({ a: 1 });
  });

  it('hands out a payload of its own, whatever the memory it arrived in holds besides', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(40), (bytes, offset) => {
        const payload = inSlab(bytes, offset).payload;
        expect(payload).toEqual(bytes);
        expect(payload.byteOffset).toBe(0);
        expect(payload.buffer.byteLength).toBe(bytes.length);
      }),
    );
  });

  it('hands out a payload whose buffer can be transferred without touching the memory it came from', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        const slab = Buffer.allocUnsafeSlow(bytes.length + 24).fill(0xc3);
        slab.set(bytes, 8);
        const before = Buffer.from(slab);
        const msg = new Message(
          's',
          undefined,
          slab,
          8,
          bytes.length,
          undefined,
          undefined,
          undefined,
          undefined,
        );
        const moved = structuredClone(msg.payload, { transfer: [msg.payload.buffer] });
        expect(moved).toEqual(bytes);
        expect(msg.payload.length).toBe(0); // detached by the transfer: it was the message's own
        expect(slab).toEqual(before);
        // string() and json() read the payload once it was handed out, whatever its size (a
        // large message's payload is the memory it arrived in): transferred, it is empty.
        expect(msg.string()).toBe('');
        expect(() => msg.json()).toThrow(expect.objectContaining({ kind: 'invalidArgument' }));
        expect(msg.length).toBe(bytes.length);
      }),
    );
  });

  it('decodes the payload as changed once it was handed out', () => {
    const msg = inSlab(new TextEncoder().encode('{"n":1}'), 3);
    expect(msg.json()).toEqual({ n: 1 });
    msg.payload[5] = '2'.charCodeAt(0);
    expect(msg.string()).toBe('{"n":2}');
    expect(msg.json()).toEqual({ n: 2 });
  });
});

describe('Message across threads', () => {
  it('structured-clones (postMessage) without its payload or its reply function; respond() still works', () => {
    const sent: string[] = [];
    const slab = Buffer.from('xxhello');
    const msg = new Message(
      's',
      'r',
      slab,
      2,
      5,
      undefined,
      undefined,
      undefined,
      undefined,
      (reply) => {
        sent.push(reply);
        return true;
      },
    );
    const copy = structuredClone(msg) as unknown as Record<string, unknown>;
    expect(copy).toEqual({
      subject: 's',
      reply: 'r',
      headers: undefined,
      status: undefined,
      description: undefined,
    });
    expect(msg.respond('ok')).toBe(true);
    expect(sent).toEqual(['r']);
  });
});
