// InboundEvents that do nothing, for unit tests that drive src/worker/inbound.ts directly;
// `overrides` replaces the ones a test watches.

import type { InboundEvents } from '../../src/worker/inbound.js';

export function quietInboundEvents(overrides: Partial<InboundEvents> = {}): InboundEvents {
  return {
    slowConsumer() {},
    dropped() {},
    caughtUp() {},
    pauseReading() {},
    resumeReading() {},
    holdKeepAlive() {},
    subscription: () => undefined,
    subscriptions: () => [],
    ...overrides,
  };
}
