import { describe, expect, it } from 'vitest';
import { PING_EVERY_BYTES, SEND_WINDOW_BYTES, SendWindow } from '../../src/worker/send-window.js';

describe('SendWindow', () => {
  it('asks for a PING after every PING_EVERY_BYTES written, not before', () => {
    const w = new SendWindow();
    w.written(PING_EVERY_BYTES - 1);
    expect(w.duePing()).toBeUndefined();
    w.written(1);
    expect(w.duePing()).toEqual({ kind: 'window', sent: PING_EVERY_BYTES });
    expect(w.duePing()).toBeUndefined(); // one PING per stretch
  });

  it('gives room up to the next PING, and closes once the window is unacknowledged', () => {
    const w = new SendWindow();
    expect(w.room()).toBe(PING_EVERY_BYTES);
    const pings = [];
    while (w.room() > 0) {
      w.written(w.room());
      const ping = w.duePing();
      if (ping) pings.push(ping);
    }
    expect(pings).toHaveLength(SEND_WINDOW_BYTES / PING_EVERY_BYTES);
    // The first PONG acknowledges what its PING followed: one stretch opens again.
    const first = pings[0];
    if (first?.kind !== 'window') throw new Error('not a window ping');
    w.acknowledged(first.sent);
    expect(w.room()).toBe(PING_EVERY_BYTES);
  });

  it('never lets more than PING_EVERY_BYTES go past the last PING, so a closed window has one on its way', () => {
    const w = new SendWindow();
    let sent = 0;
    let lastPing = 0;
    // Writes of odd sizes as room allows, PINGs taken as they come due, no PONG.
    for (let i = 0; w.room() > 0; i++) {
      const bytes = Math.min(w.room(), 70_001 + (i % 7) * 1_000);
      w.written(bytes);
      sent += bytes;
      expect(sent - lastPing).toBeLessThanOrEqual(PING_EVERY_BYTES);
      const ping = w.duePing();
      if (ping?.kind === 'window') lastPing = ping.sent;
    }
    // Closed: everything written is covered by PINGs but less than one stretch.
    expect(sent).toBeGreaterThanOrEqual(SEND_WINDOW_BYTES);
    expect(sent - lastPing).toBeLessThan(PING_EVERY_BYTES);
    w.acknowledged(lastPing);
    expect(w.room()).toBeGreaterThan(0);
  });
});
