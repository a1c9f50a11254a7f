/**
 * How far this connection's commands may run ahead of the server. A PING follows every
 * {@link PING_EVERY_BYTES} written; its PONG comes back after everything the server sent us
 * because of the bytes before it (the server answers in order), so it acknowledges them. At
 * most {@link SEND_WINDOW_BYTES} may be unacknowledged.
 *
 * Why: a client that receives its own publishes otherwise fills the socket buffers and the
 * server's queue towards it (150 k messages, 22 MB, measured in a 2 M self-echo flood); when
 * its main thread then stalls for a moment, all of that lands in the worker's backlog at once
 * and overruns subscriptionCapacity (1 of 8–10 such floods on a busy host). Bounded here, the
 * echo of what is in flight fits in the delivery ring and one subscription's backlog. The cost
 * is a throughput bound of the window per round trip (8 MiB per 100 ms is 84 MB/s), of the
 * order of what TCP's own send buffer already allows on such a link.
 */
import type { PingPurpose } from './outbound.js';

export const SEND_WINDOW_BYTES = 8 * 1024 * 1024;
export const PING_EVERY_BYTES = 1024 * 1024;

export class SendWindow {
  /** Bytes written on this connection, the count at the last window PING, and at the last PONG. */
  private sent = 0;
  private pingedAt = 0;
  private ackedAt = 0;

  written(bytes: number): void {
    this.sent += bytes;
  }

  /** A window PING is due: the purpose to write it with (the caller writes PING). */
  duePing(): PingPurpose | undefined {
    if (this.sent - this.pingedAt < PING_EVERY_BYTES) return undefined;
    this.pingedAt = this.sent;
    return { kind: 'window', sent: this.sent };
  }

  /** The PONG of a window PING: every byte written before it is acknowledged. */
  acknowledged(sent: number): void {
    this.ackedAt = sent;
  }

  /**
   * Bytes that may still be written before the next acknowledgement; ≤ 0: wait for a PONG.
   * One is always on its way then, as long as the writer asks {@link duePing} after every
   * write of at most a few PING_EVERY_BYTES (a batch): less than the window.
   */
  room(): number {
    return SEND_WINDOW_BYTES - (this.sent - this.ackedAt);
  }
}
