import { describe, expect, it } from 'vitest';
import { PING_EVERY_BYTES, SEND_WINDOW_BYTES, SendWindow } from '../../src/worker/send-window.js';

/** Writes batches of the given sizes as the session does: a due PING after each. */
function writeBatches(w: SendWindow, sizes: () => number) {
  let sent = 0;
  let lastPing = 0;
  let mostPastPing = 0;
  while (w.room() > 0) {
    const bytes = sizes();
    w.written(bytes);
    sent += bytes;
    const ping = w.duePing();
    if (ping?.kind === 'window') {
      expect(ping.sent).toBe(sent);
      lastPing = ping.sent;
    }
    mostPastPing = Math.max(mostPastPing, sent - lastPing);
  }
  return { sent, lastPing, mostPastPing };
}

describe('SendWindow', () => {
  it('asks for a PING after every PING_EVERY_BYTES written, not before', () => {
    const w = new SendWindow();
    w.written(PING_EVERY_BYTES - 1);
    expect(w.duePing()).toBeUndefined();
    w.written(1);
    expect(w.duePing()).toEqual({ kind: 'window', sent: PING_EVERY_BYTES });
    expect(w.duePing()).toBeUndefined(); // one PING per stretch
  });

  it('closes once SEND_WINDOW_BYTES are unacknowledged; a PONG opens it by what its PING covered', () => {
    const w = new SendWindow();
    expect(w.room()).toBe(SEND_WINDOW_BYTES);
    const { sent } = writeBatches(w, () => 256 * 1024);
    expect(sent).toBe(SEND_WINDOW_BYTES);
    expect(w.room()).toBe(0);
    w.acknowledged(PING_EVERY_BYTES);
    expect(w.room()).toBe(PING_EVERY_BYTES);
  });

  it('with a PING after every batch, a closed window always has one on its way', () => {
    const w = new SendWindow();
    let i = 0;
    // Batches of odd sizes, up to the outbound pump's largest (1 MiB of views + 256 KiB copied).
    const { sent, lastPing, mostPastPing } = writeBatches(
      w,
      () => 70_001 + ((i++ * 7919) % (1_310_720 - 70_001)),
    );
    expect(sent).toBeGreaterThanOrEqual(SEND_WINDOW_BYTES);
    expect(mostPastPing).toBeLessThan(PING_EVERY_BYTES);
    expect(lastPing).toBeGreaterThan(0); // so its PONG will come
    w.acknowledged(lastPing);
    expect(w.room()).toBeGreaterThan(0);
  });
});
