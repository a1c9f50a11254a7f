import { describe, expect, it } from 'vitest';
import { defaultReconnectDelay } from '../../src/shared/options.js';

describe('defaultReconnectDelay', () => {
  it("is async-nats's: attempt 1 at once, then 2, 4, 8 … ms, at most 4 s, no jitter", () => {
    const delays = Array.from({ length: 15 }, (_, i) => defaultReconnectDelay(i));
    expect(delays).toEqual([0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4000, 4000]);
    expect(defaultReconnectDelay(50)).toBe(4000);
  });
});
