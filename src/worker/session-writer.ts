/**
 * What one session writes: the command pump's batches (it is the pump's {@link OutboundSink}),
 * its own PINGs with what each one's PONG will acknowledge (ping-pong.ts: purposes in wire
 * order; unflushed.ts: the messages before it), the PONG owed to the server, and the send
 * window (flow-control.ts: a PING after every PING_EVERY_BYTES written, and one
 * PING_AFTER_QUIET_MS after messages no PING follows). It writes while the session lets it
 * (`transport()` is null otherwise: ended, or half-closed).
 */
import { PING, PONG } from '../shared/protocol/encode.js';
import { PING_AFTER_QUIET_MS, type PingPurpose, SendWindow } from './flow-control.js';
import type { OutboundSink } from './outbound.js';
import { PingPong } from './ping-pong.js';
import type { Transport } from './transport.js';
import { Unflushed } from './unflushed.js';

export class SessionWriter implements OutboundSink {
  readonly pings = new PingPong();
  /** This session's messages written, and how many of them a PONG acknowledged. */
  readonly unflushed = new Unflushed();
  private readonly window = new SendWindow();
  /** The transport's buffer is full (a write returned false): nothing optional is written. */
  private blocked = false;
  /** Armed while messages written wait for a PING to follow them (PING_AFTER_QUIET_MS). */
  private quietPing: NodeJS.Timeout | undefined;
  /** The purpose of that PING while its PONG has not come: one at a time. */
  private quietPurpose: PingPurpose | undefined;

  constructor(
    /** The transport to write to; null when nothing may be written. */
    private readonly transport: () => Transport | null,
    /** Bytes written and PUBs sent, for statistics. */
    private readonly counted: (outBytes: number, outMessages: number) => void,
    /** PINGs of its own after a pause: off with `pingInterval(0)` and once stopped. */
    private quietPings = true,
  ) {}

  /**
   * A write found the transport's buffer full, and it has not drained since; or the peer has
   * begun to close (nothing more may be written).
   */
  get socketFull(): boolean {
    return this.blocked || this.transport()?.peerClosing === true;
  }

  /** False when the pump must stop: the socket's buffer is full, or too many PINGs wait. */
  write(bytes: Uint8Array): boolean {
    // Taken first: messages written to an ended session count as written (and not acknowledged).
    this.unflushed.take();
    const transport = this.transport();
    if (transport === null) return false;
    this.wrote(bytes.length);
    return this.mayGoOn(transport.write(bytes));
  }

  writeAll(chunks: Uint8Array[]): boolean {
    this.unflushed.take();
    const transport = this.transport();
    if (transport === null) return false;
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    this.wrote(bytes);
    return this.mayGoOn(transport.writeAll(chunks));
  }

  /**
   * Write the window's PING when one is due: after each batch of commands, once the PINGs in
   * it are queued (PONGs come back in wire order), so at most a batch goes past the last one.
   * Otherwise, messages no PING follows get one a little later.
   */
  batchDone(): void {
    const purpose = this.window.duePing();
    if (purpose !== undefined) {
      this.write(PING);
      this.pinged(purpose);
    } else {
      this.armQuietPing();
    }
  }

  /** The session ended: no more PINGs of its own. */
  stop(): void {
    this.quietPings = false;
    clearTimeout(this.quietPing);
    this.quietPing = undefined;
  }

  echoWritten(bytes: number): void {
    this.window.echoWritten(bytes);
  }

  /** Echo bytes that may go out now (SendWindow); ≤ 0: a window PONG will tell. */
  echoRoom(): number {
    return this.window.room();
  }

  /** A PING inside the batch just written, after `messagesBefore` of its messages. */
  pingQueued(purpose: PingPurpose, messagesBefore: number): void {
    this.pinged(purpose, messagesBefore);
  }

  published(count: number): void {
    this.counted(0, count);
    this.unflushed.published(count); // the pump writes their batch next
  }

  /** Write a PING of the session's own (heartbeat). */
  ping(purpose: PingPurpose): void {
    this.write(PING);
    this.pinged(purpose);
  }

  /**
   * Send what must precede everything else on a fresh connection: the resubscribes, a PING for
   * each flush a lost connection left unanswered, and one for a replay fence (replay-fence.ts).
   * In one write: a server that refuses a line resets the connection, and a write after that
   * would fail before its -ERR is read.
   */
  writeFirst(lines: Uint8Array[], flushIds: number[], fenced: boolean): void {
    const purposes: PingPurpose[] = flushIds.map((id) => ({ kind: 'flush', id }));
    if (fenced) purposes.push({ kind: 'replayFence' });
    const chunks = lines.concat(purposes.map(() => PING));
    if (chunks.length > 0) this.writeAll(chunks);
    for (const purpose of purposes) this.pinged(purpose);
  }

  /**
   * A PONG came: the purpose of the PING it answers (undefined when none is outstanding: it
   * answers nothing), with what that PING acknowledges taken into account.
   */
  ponged(): PingPurpose | undefined {
    const ping = this.pings.answered();
    if (ping === undefined) return undefined;
    this.unflushed.ponged(ping.before);
    const { purpose } = ping;
    if (purpose.kind === 'window') this.window.acknowledged(purpose.sent);
    if (purpose === this.quietPurpose) {
      this.quietPurpose = undefined;
      this.armQuietPing(); // for what was written while it was on its way
    }
    return purpose;
  }

  /** After a PONG: whether the pump, stopped by the PING bound, may go on (the socket drains). */
  mayResume(): boolean {
    return this.pings.reopened() && !this.blocked;
  }

  /**
   * One PONG for the PINGs of the last chunk(s), once the socket takes writes: a server only
   * needs some PONG, and a PING flood must not queue one per PING behind a full socket.
   */
  answerPings(): void {
    if (this.blocked || !this.pings.takeOwedPong()) return;
    this.write(PONG);
  }

  /** The socket's buffer drained. */
  drained(): void {
    this.blocked = false;
    this.answerPings();
    this.armQuietPing();
  }

  /**
   * PING_AFTER_QUIET_MS after a batch: a PING, unless one followed its messages meanwhile. A
   * full socket takes nothing optional: drained() arms it again.
   */
  private readonly pingAfterQuiet = (): void => {
    this.quietPing = undefined;
    if (this.blocked || !this.unflushed.unpinged() || this.transport() === null) return;
    this.write(PING);
    this.quietPurpose = this.window.ping();
    this.pinged(this.quietPurpose);
  };

  /**
   * The timer for a PING after a pause, when messages wait for one and none is armed or on its
   * way (its PONG arms it again): at most one outstanding, so a server that answers none is
   * left to the heartbeat, and an idle or stuck connection is never woken for it.
   */
  private armQuietPing(): void {
    if (!this.quietPings || this.quietPing !== undefined || this.quietPurpose !== undefined) return;
    if (this.blocked || !this.unflushed.unpinged()) return;
    this.quietPing = setTimeout(this.pingAfterQuiet, PING_AFTER_QUIET_MS);
    this.quietPing.unref(); // the socket keeps the worker alive, not this
  }

  /** A PING written after everything so far, or inside the last batch after `inLastBatch` of its messages. */
  private pinged(purpose: PingPurpose, inLastBatch?: number): void {
    this.pings.sent(purpose, this.unflushed.pingWritten(inLastBatch));
  }

  private wrote(bytes: number): void {
    this.counted(bytes, 0);
    this.window.wrote(bytes);
  }

  private mayGoOn(writable: boolean): boolean {
    if (!writable) this.blocked = true;
    return this.pings.hasRoom() && writable;
  }
}
