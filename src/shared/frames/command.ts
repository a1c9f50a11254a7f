/**
 * Command frames: the main thread's commands to the connection worker (`Command` in async-nats
 * terms), one per record body of the command ring (ring/byte-ring.ts, framing in layout.ts).
 * This module owns the format: the writers and readers both threads call sit side by side;
 * how the main thread fills PUB records with them is pub-records.ts and pub-parts.ts.
 *
 *   writer: main thread (Publisher)          reader: worker (OutboundPump)
 *
 *   byte   0       1       2      4              8                  12
 *          ┌──────┬───────┬──────┬──────────────┬──────────────────┬────────────────────────┐
 *   PUB    │ op 1 │ flags │ 0    │ u32 count    │ wire bytes of `count` messages, back to back
 *   SUB    │ op 3 │ flags │ 0    │ u32 sid      │ u32 subject bytes │ subject | queue group
 *   UNSUB  │ op 4 │ 0     │ 0    │ u32 sid      │ u32 max (0 = now) │
 *   FLUSH  │ op 5 │ 0     │ 0    │ u32 flush id │                   │
 *          └──────┴───────┴──────┴──────────────┴──────────────────┴────────────────────────┘
 *   u8 op | u8 flags | u16 pad; then u32 fields, little-endian. PUB flags: ECHO (one of its
 *   messages goes to a subject this client receives itself; flow-control.ts gates it),
 *   CONTINUES (the record holds part of one message that the next record continues; count 0).
 *   SUB flags: REPLIES (the shared request inbox: no subscriptionCapacity count, see
 *   flow-control.ts; the byte bound holds).
 *
 * - PUB: the ready NATS wire ops (`PUB subj [reply] len\r\n<payload>\r\n` or `HPUB subj [reply]
 *   hlen tlen\r\n…`), so the worker gathers records into socket writes without parsing them
 *   (MECHANICS C.1). Consecutive publishes fill one record, reserved large and committed at
 *   its size before W is published (pub-records.ts). A message of more than
 *   CONTINUED_WIRE_OVER wire bytes is cut into records of PUB_PART_BYTES (pub-parts.ts):
 *   every record but the last has CONTINUES and count 0, the last count 1.
 *   Nothing comes between them; the worker gathers them before it writes any to the socket, so
 *   none of its own lines (PING, PONG) can land inside the message.
 * - SUB: subject and queue group in UTF-8; the queue group runs to the end of the body (none
 *   when empty). The worker encodes the `SUB` line itself, and again for every reconnect.
 * - UNSUB: `max` is the unsubscribeAfter total (the worker's subscription table owns the limit).
 * - FLUSH: the worker sends a PING and acknowledges the flush on its PONG.
 *
 * SUB and UNSUB travel in this ring, not over comlink, so they stay ordered with publishes.
 */
import { NatsError } from '../errors.js';
import { decodeString, utf8Length, writeString } from '../protocol/utf8.js';

/** What the main thread asks of the connection worker, as the frames carry it. */
export type Command =
  /**
   * `count` messages as NATS wire bytes; `wire` is a view of the frame once decoded. `echo`:
   * one of them comes back to this client (flow-control.ts).
   */
  | { kind: 'pub'; count: number; wire: Uint8Array; echo: boolean; continues?: true }
  /** `replies`: the shared request inbox, bounded by bytes only (flow-control.ts). */
  | { kind: 'sub'; sid: number; subject: string; queue?: string; replies?: true }
  /** `max` 0: unsubscribe now; else after `max` messages in total. */
  | { kind: 'unsub'; sid: number; max: number }
  | { kind: 'flush'; id: number };

/** The commands the Publisher writes one frame each; publishes grow PUB records instead. */
export type ControlCommand = Exclude<Command, { kind: 'pub' }>;

const CMD_PUB = 1;
const CMD_SUB = 3;
const CMD_UNSUB = 4;
const CMD_FLUSH = 5;

const CMD_OP = 0;
const CMD_FLAGS = 1;
/** PUB flag: the record holds a message this client receives (echo on, its own subscription matches). */
const PUB_ECHO = 1;
/** PUB flag: the record's wire bytes are part of one message that the next record continues. */
const PUB_CONTINUES = 2;
/** SUB flag: the shared request inbox. */
const SUB_REPLIES = 1;
const CMD_PUB_COUNT = 4;
const CMD_PUB_WIRE = 8;
const CMD_SID = 4;
const CMD_SUB_SUBJECT_LEN = 8;
const CMD_SUB_SUBJECT = 12;
const CMD_UNSUB_MAX = 8;
const CMD_UNSUB_BYTES = 12;
const CMD_FLUSH_ID = 4;
const CMD_FLUSH_BYTES = 8;

/**
 * Wire bytes from which the worker hands a record to the socket as a view of the ring instead
 * of copying it: the kernel copies it, which is cheaper than V8's copy out of shared memory
 * (a large message, or a record grown from many small ones); smaller records are gathered into
 * one copied write, cheaper than many small views.
 */
export const WIRE_VIEW_BYTES = 8 * 1024;

// ---- PUB frames: the hot path ---------------------------------------------------------

/** Body bytes of a PUB frame holding `wireLength` bytes of messages. */
export function pubFrameLength(wireLength: number): number {
  return CMD_PUB_WIRE + wireLength;
}

/**
 * Starts a PUB frame of one message at `bytes[off]` (`echo`: it comes back to this client);
 * returns where its wire bytes go.
 */
export function writePubHeader(
  bytes: Uint8Array,
  view: DataView,
  off: number,
  echo: boolean,
): number {
  bytes[off + CMD_OP] = CMD_PUB;
  bytes[off + CMD_FLAGS] = echo ? PUB_ECHO : 0;
  view.setUint32(off + CMD_PUB_COUNT, 1, true);
  return off + CMD_PUB_WIRE;
}

/**
 * Starts a PUB record of one part of a continued message at `bytes[off]` (`last`: the part
 * that completes it, counted as its one message); returns where its wire bytes go.
 */
export function writePubPartHeader(
  bytes: Uint8Array,
  view: DataView,
  off: number,
  echo: boolean,
  last: boolean,
): number {
  const at = writePubHeader(bytes, view, off, echo);
  if (!last) {
    bytes[off + CMD_FLAGS] |= PUB_CONTINUES;
    setPubCount(view, off, 0);
  }
  return at;
}

/** Whether the PUB frame at `off` holds part of a message that the next record continues. */
export function continuesPub(bytes: Uint8Array, off: number): boolean {
  return (bytes[off + CMD_FLAGS] & PUB_CONTINUES) !== 0;
}

/** A message that comes back to this client joined the PUB frame at `off`. */
export function markEchoPub(bytes: Uint8Array, off: number): void {
  bytes[off + CMD_FLAGS] = PUB_ECHO;
}

/** Whether the PUB frame at `off` holds a message this client receives itself. */
export function isEchoPub(bytes: Uint8Array, off: number): boolean {
  return (bytes[off + CMD_FLAGS] & PUB_ECHO) !== 0;
}

/** Sets the message count of the PUB frame at `off` (`view` over the frame's bytes). */
export function setPubCount(view: DataView, off: number, count: number): void {
  view.setUint32(off + CMD_PUB_COUNT, count, true);
}

/** Whether the frame at `bytes[off]` is a PUB frame (else see {@link decodeControlCommand}). */
export function isPubFrame(bytes: Uint8Array, off: number): boolean {
  return bytes[off + CMD_OP] === CMD_PUB;
}

/** Messages in the PUB frame at `off`. */
export function pubCount(view: DataView, off: number): number {
  return view.getUint32(off + CMD_PUB_COUNT, true);
}

/** Offset of the wire bytes of the PUB frame at `off` (they run to the end of the body). */
export function pubWireStart(off: number): number {
  return off + CMD_PUB_WIRE;
}

// ---- every command: the typed codec ---------------------------------------------------

/** Body bytes of the frame {@link encodeCommand} writes for `cmd`. */
export function commandLength(cmd: Command): number {
  switch (cmd.kind) {
    case 'pub':
      return pubFrameLength(cmd.wire.length);
    case 'sub':
      return CMD_SUB_SUBJECT + utf8Length(cmd.subject) + (cmd.queue ? utf8Length(cmd.queue) : 0);
    case 'unsub':
      return CMD_UNSUB_BYTES;
    case 'flush':
      return CMD_FLUSH_BYTES;
  }
}

/** Writes `cmd` as a frame of {@link commandLength} bytes at `bytes[off]`. */
export function encodeCommand(cmd: Command, bytes: Uint8Array, off: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  switch (cmd.kind) {
    case 'pub':
      bytes.set(cmd.wire, writePubHeader(bytes, view, off, cmd.echo));
      setPubCount(view, off, cmd.count);
      if (cmd.continues) bytes[off + CMD_FLAGS] |= PUB_CONTINUES;
      return;
    case 'sub': {
      bytes[off + CMD_OP] = CMD_SUB;
      // Written either way: the ring's bytes are reused, never cleared.
      bytes[off + CMD_FLAGS] = cmd.replies ? SUB_REPLIES : 0;
      view.setUint32(off + CMD_SID, cmd.sid, true);
      const end = writeString(bytes, off + CMD_SUB_SUBJECT, cmd.subject);
      view.setUint32(off + CMD_SUB_SUBJECT_LEN, end - off - CMD_SUB_SUBJECT, true);
      if (cmd.queue) writeString(bytes, end, cmd.queue);
      return;
    }
    case 'unsub':
      bytes[off + CMD_OP] = CMD_UNSUB;
      view.setUint32(off + CMD_SID, cmd.sid, true);
      view.setUint32(off + CMD_UNSUB_MAX, cmd.max, true);
      return;
    case 'flush':
      bytes[off + CMD_OP] = CMD_FLUSH;
      view.setUint32(off + CMD_FLUSH_ID, cmd.id, true);
      return;
  }
}

/**
 * The command in the frame of `length` bytes at `bytes[off]`. A PUB's `wire` is a view of
 * `bytes`, valid as long as the frame is. The worker reads PUB frames without this (no object
 * per record): {@link isPubFrame}, {@link pubCount}, {@link pubWireStart}.
 *
 * @throws NatsError `invalidArgument` for a frame no writer here makes
 */
export function decodeCommand(bytes: Uint8Array, off: number, length: number): Command {
  if (!isPubFrame(bytes, off)) return decodeControlCommand(bytes, off, length);
  const pub: Command = {
    kind: 'pub',
    count: pubCount(new DataView(bytes.buffer, bytes.byteOffset), off),
    wire: bytes.subarray(pubWireStart(off), off + length),
    echo: isEchoPub(bytes, off),
  };
  if (continuesPub(bytes, off)) pub.continues = true;
  return pub;
}

/**
 * {@link decodeCommand} for a frame that is not a PUB frame ({@link isPubFrame}).
 *
 * @throws NatsError `invalidArgument` for a frame no writer here makes, or a PUB frame
 */
export function decodeControlCommand(
  bytes: Uint8Array,
  off: number,
  length: number,
): ControlCommand {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const op = bytes[off + CMD_OP];
  switch (op) {
    case CMD_SUB: {
      const subjectEnd = off + CMD_SUB_SUBJECT + view.getUint32(off + CMD_SUB_SUBJECT_LEN, true);
      const sub: ControlCommand = {
        kind: 'sub',
        sid: view.getUint32(off + CMD_SID, true),
        subject: decodeString(bytes, off + CMD_SUB_SUBJECT, subjectEnd),
      };
      if (subjectEnd < off + length) sub.queue = decodeString(bytes, subjectEnd, off + length);
      if ((bytes[off + CMD_FLAGS] & SUB_REPLIES) !== 0) sub.replies = true;
      return sub;
    }
    case CMD_UNSUB:
      return {
        kind: 'unsub',
        sid: view.getUint32(off + CMD_SID, true),
        max: view.getUint32(off + CMD_UNSUB_MAX, true),
      };
    case CMD_FLUSH:
      return { kind: 'flush', id: view.getUint32(off + CMD_FLUSH_ID, true) };
  }
  throw new NatsError('invalidArgument', `no control command frame at ${off} (op ${op})`);
}
