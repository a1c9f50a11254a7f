import { describe, expect, it } from 'vitest';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';
import {
  BACKLOG_PAUSE_BYTES,
  BACKLOG_RESUME_BYTES,
  type Counted,
  MAX_DROP_NOTICES,
  PING_EVERY_BYTES,
  ReceivePolicy,
  ECHO_WINDOW_BYTES as SEND_WINDOW_BYTES,
  SendWindow,
  STALL_MS,
} from '../../src/worker/flow-control.js';

/** Writes batches of echo records of the given sizes as the session does: a due PING after each. */
function writeBatches(w: SendWindow, sizes: () => number) {
  let sent = 0;
  let lastPing = 0;
  let mostPastPing = 0;
  while (w.room() > 0) {
    const bytes = sizes();
    w.wrote(bytes);
    w.echoWritten(bytes);
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
    w.wrote(PING_EVERY_BYTES - 1);
    w.echoWritten(PING_EVERY_BYTES - 1);
    expect(w.duePing()).toBeUndefined();
    w.wrote(1);
    w.echoWritten(1);
    expect(w.duePing()).toEqual({ kind: 'window', sent: PING_EVERY_BYTES });
    expect(w.duePing()).toBeUndefined(); // one PING per stretch
  });

  it('asks for PINGs on plain publishes too: their PONGs bound what an abandoned socket lost', () => {
    const w = new SendWindow();
    w.wrote(PING_EVERY_BYTES);
    expect(w.duePing()).toEqual({ kind: 'window', sent: 0 });
    expect(w.room()).toBe(SEND_WINDOW_BYTES);
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

/** A policy over a real ring with a hand-driven clock; records what it asks of its owner. */
function newPolicy(capacity: number) {
  const buffers = createRingBuffers(1 << 16);
  const ring = new RingProducer(buffers);
  const consumer = new RingConsumer(buffers);
  const subs: Counted[] = [];
  const calls: string[] = [];
  let now = 0;
  /** The backlog's byte count, which the policy reads. */
  const backlog = { bytes: 0 };
  const policy = new ReceivePolicy(
    ring,
    backlog,
    capacity,
    {
      pauseReading: () => calls.push('pause'),
      resumeReading: () => calls.push('resume'),
      holdKeepAlive: (held) => calls.push(held ? 'hold' : 'release'),
      countWaiting: () => {
        calls.push('count');
        for (const sub of subs) {
          sub.waiting = 0;
          sub.slow = false;
        }
      },
    },
    () => now,
  );
  /** A frame lands in the ring (the main thread has not read it). */
  const frame = () => {
    const off = ring.reserve(8);
    if (off < 0) throw new Error('test ring full');
    ring.commit();
    ring.publish();
  };
  /** The main thread takes everything. */
  const read = () => {
    while (consumer.next() >= 0) consumer.advance();
    consumer.release();
  };
  return {
    policy,
    subs,
    calls,
    frame,
    read,
    /** `bytes` more wait in the backlog. */
    queued: (bytes: number) => {
      backlog.bytes += bytes;
      policy.queued();
    },
    /** `bytes` left the backlog for the ring. */
    moved: (bytes: number) => {
      backlog.bytes -= bytes;
      policy.moved();
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('ReceivePolicy', () => {
  it('admits everything while the main thread makes progress, however slowly', () => {
    const t = newPolicy(2);
    const sub: Counted = { waiting: 0, slow: false, replies: false };
    t.subs.push(sub);
    for (let i = 0; i < 100; i++) {
      t.frame();
      t.advance(STALL_MS - 1);
      if (i % 2 === 0) t.read(); // progress within every STALL_MS
      t.policy.observe();
      expect(t.policy.admit(sub)).toBe(true);
    }
    expect(t.policy.stalled).toBe(false);
    expect(t.calls).toEqual([]);
  });

  it('an idle main thread with nothing waiting is not stalled', () => {
    const t = newPolicy(2);
    t.advance(10 * STALL_MS);
    t.policy.observe();
    expect(t.policy.stalled).toBe(false);
  });

  it('stalls after STALL_MS without progress while frames wait; past capacity it drops until progress', () => {
    const t = newPolicy(2);
    const sub: Counted = { waiting: 0, slow: false, replies: false };
    t.subs.push(sub);
    t.frame();
    t.policy.observe(); // frames wait from here on
    t.advance(STALL_MS - 1);
    t.policy.observe();
    expect(t.policy.stalled).toBe(false);
    t.advance(1);
    t.policy.observe();
    expect(t.policy.stalled).toBe(true);
    expect(t.calls).toEqual(['count']);
    sub.waiting = 1; // what countWaiting found
    expect(t.policy.admit(sub)).toBe(true); // 2 now
    expect(t.policy.admit(sub)).toBe(false);
    expect(sub.waiting).toBe(2);
    t.read();
    t.policy.observe();
    expect(t.policy.stalled).toBe(false);
    expect(t.policy.admit(sub)).toBe(true);
  });

  it('pauses reading past BACKLOG_PAUSE_BYTES and resumes below BACKLOG_RESUME_BYTES', () => {
    const t = newPolicy(1000);
    t.queued(BACKLOG_PAUSE_BYTES - 1);
    expect(t.calls).toEqual(['hold']); // a PONG may sit behind what waits
    t.queued(1);
    expect(t.calls).toEqual(['hold', 'pause']);
    expect(t.policy.readingPaused).toBe(true);
    t.queued(100); // the rest of the chunk being parsed
    t.moved(BACKLOG_PAUSE_BYTES + 100 - BACKLOG_RESUME_BYTES);
    expect(t.calls).toEqual(['hold', 'pause']);
    t.moved(1);
    expect(t.calls).toEqual(['hold', 'pause', 'resume']);
    expect(t.policy.readingPaused).toBe(false);
    expect(t.policy.keepAliveHeld).toBe(true); // until the backlog is empty
    t.moved(BACKLOG_RESUME_BYTES - 1);
    expect(t.calls).toEqual(['hold', 'pause', 'resume', 'release']);
    t.policy.close();
  });

  it('a stalled main thread drops no reply of the shared request inbox below the byte bound', () => {
    const t = newPolicy(2);
    const inbox: Counted = { waiting: 0, slow: false, replies: true };
    t.frame();
    t.policy.observe();
    t.advance(STALL_MS);
    t.policy.observe();
    expect(t.policy.stalled).toBe(true);
    for (let i = 0; i < 100; i++) expect(t.policy.admit(inbox)).toBe(true);
    t.queued(BACKLOG_PAUSE_BYTES);
    expect(t.policy.admit(inbox)).toBe(false);
    // Its request is named to the main thread: MAX_DROP_NOTICES at a time, however large the
    // messages that fill the backlog, until it empties.
    t.queued(64 * 1024 * 1024);
    for (let i = 0; i < MAX_DROP_NOTICES; i++) expect(t.policy.noticeDrop()).toBe(true);
    expect(t.policy.noticeDrop()).toBe(false);
    t.moved(64 * 1024 * 1024 + BACKLOG_PAUSE_BYTES - 1);
    expect(t.policy.noticeDrop()).toBe(false); // a notice may still wait
    t.moved(1);
    expect(t.policy.noticeDrop()).toBe(true);
    t.policy.close();
  });

  it('a stalled main thread drops past the byte bound too, and keeps the socket read', () => {
    const t = newPolicy(1_000_000);
    const sub: Counted = { waiting: 0, slow: false, replies: false };
    t.frame();
    t.policy.observe();
    t.advance(STALL_MS);
    t.policy.observe();
    expect(t.policy.stalled).toBe(true);
    t.queued(BACKLOG_PAUSE_BYTES);
    expect(t.calls).toEqual(['count']); // no pause nor hold while stalled: PING/PONG must flow
    expect(t.policy.admit(sub)).toBe(false);
    t.policy.close();
  });
});
