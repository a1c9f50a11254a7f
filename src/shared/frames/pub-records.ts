/**
 * The main thread's PUB records in the command ring (the PUB frame format is command.ts's):
 * how consecutive publishes grow one record, and where in it a large payload is placed so that
 * its copy into shared memory runs by words.
 */
import type { RingProducer } from '../ring/ring-producer.js';
import {
  markEchoPub,
  pubFrameLength,
  pubWireStart,
  setPubCount,
  writePubHeader,
} from './command.js';

/**
 * Wire bytes a PUB record grows to from consecutive publishes. Above WIRE_VIEW_BYTES (command.ts), so that a
 * burst's records go out as views: against growth capped below it, worker CPU per 2 M
 * self-echoed 128 B messages 1440-1510 -> 1280-1390 ms (bench/tools/thread-cpu.ts, 5 runs).
 */
export const PUB_GROW_BYTES = 64 * 1024;

/**
 * Payloads from this size on are aligned in the ring (see PubRecords.alignPad): the copy of
 * 512 B then costs ~20 % less and 16 KiB ~55 % less; at 128 B no gain showed.
 */
const ALIGN_PAYLOAD_MIN = 256;

/**
 * Lines longer than this get no blanks: nats-server checks its max_control_line (4 KiB by
 * default, not in INFO) on a control line that its reads split, and blanks must not push one
 * over it.
 */
const ALIGN_LINE_MAX = 256;

/**
 * The main thread's PUB records in the command ring: where each message's wire bytes go, and
 * where its payload should land. One record grows by every publish until W is published or
 * another frame comes between ({@link close}); the worker then takes many messages per record.
 */
export class PubRecords {
  /** Body offset of the PUB record later publishes may grow (RingProducer.append), or -1. */
  private open = -1;
  /** Messages and wire bytes in that record. */
  private count = 0;
  private wireBytes = 0;

  constructor(private readonly ring: RingProducer) {}

  /** Most wire bytes one message may have: a record must hold it. */
  get maxWire(): number {
    return this.ring.maxBody - pubFrameLength(0);
  }

  /**
   * Room in the ring for one message's `wireLength` wire bytes: appended to the open record
   * when it may grow, else in a new record. Returns their offset in the ring's bytes, or -1
   * when the ring is full.
   */
  reserve(wireLength: number, echo: boolean): number {
    const ring = this.ring;
    const appended = this.mayGrow(wireLength) ? ring.append(this.open, wireLength) : -1;
    if (appended >= 0) {
      setPubCount(ring.view, this.open, ++this.count);
      if (echo) markEchoPub(ring.bytes, this.open);
      this.wireBytes += wireLength;
      return appended;
    }
    const off = ring.reserve(pubFrameLength(wireLength));
    if (off < 0) return -1;
    this.open = off;
    this.count = 1;
    this.wireBytes = wireLength;
    const at = writePubHeader(ring.bytes, ring.view, off, echo);
    ring.commit(); // committed before its bytes are written: the worker sees neither before publish
    return at;
  }

  /** Another frame follows the open record: later messages go after it, not into the record. */
  close(): void {
    this.open = -1;
  }

  /**
   * Extra blanks for a PUB line that put its payload at the payload's own offset mod 8 in the
   * ring: V8 copies into shared memory by 8-byte words only when source and destination agree
   * mod 8, else byte by byte (a 16 KiB copy: 2.5 against 12.5 µs). 0 for small payloads, long
   * lines, and messages within 7 bytes of the ring's record limit (blanks must not make one
   * too large). A guess, wrong when the ring turns out full or wraps: the message then goes
   * unaligned.
   */
  alignPad(lineLength: number, wireLength: number, payload: Uint8Array): number {
    if (payload.length < ALIGN_PAYLOAD_MIN || lineLength > ALIGN_LINE_MAX) return 0;
    if (wireLength + 7 > this.maxWire) return 0;
    // appendOffset is -1 once the record has been published: a new record follows.
    let at = this.mayGrow(wireLength + 7) ? this.ring.appendOffset(this.open) : -1;
    if (at < 0) at = pubWireStart(this.ring.nextBody());
    return (payload.byteOffset - at - lineLength) & 7;
  }

  /** Whether a message of `wireLength` bytes may join the open record (if the ring lets it). */
  private mayGrow(wireLength: number): boolean {
    return this.open >= 0 && this.wireBytes + wireLength < PUB_GROW_BYTES;
  }
}
