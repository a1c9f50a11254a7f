/**
 * The main thread's PUB records in the command ring (the PUB frame format is command.ts's):
 * how consecutive publishes fill one record, and where in it a large payload is placed so that
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

/** Wire bytes a record is reserved for: messages join it while they stay below PUB_GROW_BYTES. */
const GROW_WIRE = PUB_GROW_BYTES - 1;

/**
 * Payloads from this size on are aligned in the ring (see PubRecords.alignPad): the copy of
 * 512 B then costs ~20 % less and 16 KiB ~55 % less; at 128 B no gain showed.
 */
export const ALIGN_PAYLOAD_MIN = 256;

/**
 * Lines longer than this get no blanks: nats-server checks its max_control_line (4 KiB by
 * default, not in INFO) on a control line that its reads split, and blanks must not push one
 * over it.
 */
const ALIGN_LINE_MAX = 256;

/**
 * The main thread's PUB records in the command ring: where each message's wire bytes go, and
 * where its payload should land. A record is reserved with room for many messages and filled
 * until W is published, another frame comes between, or it is full ({@link close} commits
 * it); the worker then takes many messages per record. A message costs a few local sums: the
 * record's length, count and flags go into shared memory once, when it is committed.
 */
export class PubRecords {
  /** Body offset of the PUB record being filled (reserved in the ring, not committed), or -1. */
  private open = -1;
  /** Wire bytes it has room for and holds, its messages, and whether one comes back here. */
  private room = 0;
  private wireBytes = 0;
  private count = 0;
  private echo = false;

  constructor(private readonly ring: RingProducer) {}

  /** Frame bytes of the open record so far: not committed, so not yet in the ring's used bytes. */
  get openBytes(): number {
    return this.open < 0 ? 0 : pubFrameLength(this.wireBytes);
  }

  /** Most wire bytes one message may have: a record must hold it. */
  get maxWire(): number {
    return this.ring.maxBody - pubFrameLength(0);
  }

  /**
   * Room in the ring for one message's `wireLength` wire bytes: in the open record when it
   * has room, else in a new record. Returns their offset in the ring's bytes, or -1 when the
   * ring is full.
   */
  reserve(wireLength: number, echo: boolean): number {
    const filled = this.wireBytes + wireLength;
    if (this.open >= 0 && filled <= this.room) {
      const at = pubWireStart(this.open) + this.wireBytes;
      this.wireBytes = filled;
      this.count++;
      if (echo) this.echo = true;
      return at;
    }
    return this.next(wireLength, echo);
  }

  /**
   * Commits the open record, if any, so that the ring may take other frames or publish it:
   * later messages go into a new record after it. Called before every other use of the ring.
   */
  close(): void {
    const open = this.open;
    if (open < 0) return;
    this.open = -1;
    const ring = this.ring;
    setPubCount(ring.view, open, this.count);
    if (this.echo) markEchoPub(ring.bytes, open);
    ring.commit(pubFrameLength(this.wireBytes));
  }

  /**
   * Extra blanks for a PUB line that put its payload at the payload's own offset mod 8 in the
   * ring: V8 copies into shared memory by 8-byte words only when source and destination agree
   * mod 8, else byte by byte (a 16 KiB copy: 2.5 against 12.5 µs). 0 for small payloads, long
   * lines, and messages within 7 bytes of the ring's record limit (blanks must not make one
   * too large). A guess, wrong when the ring turns out full or wraps: the message then goes
   * unaligned. `payloadOffset`: the payload's byte offset in its buffer.
   */
  alignPad(lineLength: number, wireLength: number, payloadOffset: number): number {
    if (wireLength - lineLength - 2 < ALIGN_PAYLOAD_MIN || lineLength > ALIGN_LINE_MAX) return 0;
    if (wireLength + 7 > this.maxWire) return 0;
    const at =
      this.open >= 0 && this.wireBytes + wireLength + 7 <= this.room
        ? pubWireStart(this.open) + this.wireBytes
        : pubWireStart(this.ring.nextBody());
    return (payloadOffset - at - lineLength) & 7;
  }

  /** A new record for a message of `wireLength` bytes, with room for more up to PUB_GROW_BYTES. */
  private next(wireLength: number, echo: boolean): number {
    this.close();
    const ring = this.ring;
    const needed = pubFrameLength(wireLength);
    // Short of room for more before the end or in the free space: this message alone (which
    // may wrap, or find the ring full).
    const length = Math.max(needed, ring.room(pubFrameLength(Math.max(wireLength, GROW_WIRE))));
    const off = ring.reserve(length);
    if (off < 0) return -1;
    this.open = off;
    this.room = length - pubFrameLength(0);
    this.wireBytes = wireLength;
    this.count = 1;
    this.echo = echo;
    return writePubHeader(ring.bytes, ring.view, off, echo);
  }
}
