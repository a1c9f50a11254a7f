// Sockets ended on purpose (src/worker/endings.ts): the next dial's head start after a
// forceReconnect() ends with whichever comes first, and leaves no timer behind.

import { describe, expect, it } from 'vitest';
import type { WorkerOptions } from '../../src/shared/options.js';
import { Endings } from '../../src/worker/endings.js';
import type { Session } from '../../src/worker/session.js';

/** A session whose graceful close has finished, having sent everything. */
function closedSession(): Session {
  return { close: () => Promise.resolve(0) } as unknown as Session;
}

const options = { pingInterval: 120_000, connectionTimeout: 10_000 } as WorkerOptions;

/** Timers the process has pending (a 2 s one would keep a closed worker alive meanwhile). */
const pendingTimers = () =>
  process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

describe('Endings.forcedHeadStart', () => {
  it('once the old socket has closed: no timer left running', async () => {
    const endings = new Endings(() => {});
    const before = pendingTimers();
    endings.force(closedSession(), options);
    await endings.forcedHeadStart(new AbortController().signal, options);
    expect(pendingTimers()).toBe(before);
  });

  it('when the wait is aborted: no timer left running', async () => {
    const endings = new Endings(() => {});
    const before = pendingTimers();
    // A socket that never closes on its own.
    endings.force({ close: () => new Promise(() => {}) } as unknown as Session, options);
    const wake = new AbortController();
    const waiting = endings.forcedHeadStart(wake.signal, options);
    wake.abort();
    await waiting;
    expect(pendingTimers()).toBe(before);
  });

  it('a server that does not read gets half of connectionTimeout, not 2 s, when that is shorter', async () => {
    const endings = new Endings(() => {});
    const short = { ...options, connectionTimeout: 600 };
    endings.force({ close: () => new Promise(() => {}) } as unknown as Session, short);
    const start = performance.now();
    await endings.forcedHeadStart(new AbortController().signal, short);
    const waited = performance.now() - start;
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(1_500);
  });
});
