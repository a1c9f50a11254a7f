// The benchmark harness's own logic: order statistics, the plan of measurements, medians and
// ratios, the table, and what each scenario asks for. The end-to-end runs of the CLI are in
// test/integration/bench-cli.test.ts.

import { describe, expect, it } from 'vitest';
import { CLIENTS } from '../../bench/clients/types.js';
import { NATS_JS_PACKAGE, runnable, unusable } from '../../bench/optional.js';
import { formatValue, summarise, table } from '../../bench/report.js';
import { plan, type Sample } from '../../bench/runner.js';
import { tickStats } from '../../bench/scenarios/burst.js';
import { messageCount } from '../../bench/scenarios/common.js';
import { SCENARIOS } from '../../bench/scenarios/index.js';
import { countFor, type PlanOptions, QUICK, type Variant } from '../../bench/scenarios/types.js';
import { median, percentile } from '../../bench/stats.js';

const DEFAULTS: PlanOptions = { quick: false };

function variantsOf(name: string, options: PlanOptions = DEFAULTS): Variant[] {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (!scenario) throw new Error(`no scenario ${name}`);
  return scenario.variants(options);
}

function sample(
  variant: string,
  client: Sample['client'],
  rep: number,
  msgsPerSec: number | null,
): Sample {
  return msgsPerSec === null
    ? { variant, client, rep, ok: false, error: 'boom', wallMs: 1 }
    : { variant, client, rep, ok: true, metrics: { msgsPerSec }, wallMs: 1 };
}

const ONE_METRIC: Variant = {
  id: 'x',
  scenario: 'x',
  label: 'x 128 B',
  clients: CLIENTS,
  needsServer: true,
  params: {},
  metrics: [{ key: 'msgsPerSec', label: 'msgs/s', better: 'higher' }],
  timeoutMs: 1000,
};

describe('stats', () => {
  it('percentile is nearest-rank over sorted values', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 90)).toBe(9);
    expect(percentile(sorted, 99)).toBe(10);
    expect(percentile(sorted, 100)).toBe(10);
    expect(percentile(sorted, 1)).toBe(1);
    expect(percentile(Float64Array.of(0.2, 0.4, 0.9), 50)).toBe(0.4);
    expect(percentile([], 50)).toBeNaN();
  });

  it('median sorts a copy and averages the middle two of an even count', () => {
    const values = [9, 1, 5];
    expect(median(values)).toBe(5);
    expect(values).toEqual([9, 1, 5]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });
});

describe('plan', () => {
  it('runs every client once per repetition, alternating who goes first', () => {
    const [a, b, c] = CLIENTS;
    const list = plan([ONE_METRIC], 3);
    expect(list.map((m) => [m.rep, m.client])).toEqual([
      [1, a],
      [1, b],
      [1, c],
      [2, c],
      [2, b],
      [2, a],
      [3, a],
      [3, b],
      [3, c],
    ]);
  });

  it('gives an in-process micro benchmark to nats-offload only', () => {
    const micro = variantsOf('micro');
    expect(micro.length).toBeGreaterThan(0);
    for (const m of plan(micro, 2)) expect(m.client).toBe('nats-offload');
    for (const v of micro) expect(v.needsServer).toBe(false);
  });
});

describe('optional packages', () => {
  const planned = [...variantsOf('pub', { quick: true, size: 128 }), ...variantsOf('micro')];

  it('runs everything, with no note, when nats.js and tinybench are installed', () => {
    expect(runnable(planned, () => undefined)).toEqual({ variants: planned, notes: [] });
  });

  it('without nats.js measures nats-offload alone and says how to get the comparison', () => {
    const { variants, notes } = runnable(planned, (name) =>
      name === NATS_JS_PACKAGE ? 'is not installed' : undefined,
    );
    expect(variants.map((v) => v.id)).toEqual(planned.map((v) => v.id));
    expect(new Set(variants.flatMap((v) => v.clients))).toEqual(new Set(['nats-offload', 'raw']));
    expect(notes).toEqual([expect.stringContaining(`npm install ${NATS_JS_PACKAGE}`)]);
  });

  it('without tinybench leaves out micro and says so', () => {
    const { variants, notes } = runnable(planned, (name) =>
      name === 'tinybench' ? 'is not installed' : undefined,
    );
    expect(variants.map((v) => v.scenario)).toEqual(['pub']);
    expect(notes).toEqual([expect.stringContaining('skipping micro')]);
  });

  it('finds the packages of this checkout usable, and a missing one not installed', () => {
    for (const name of [NATS_JS_PACKAGE, 'tinybench', '@nats-io/jetstream']) {
      expect(unusable(name), name).toBeUndefined();
    }
    expect(unusable('no-such-package-here')).toBe('is not installed');
  });

  it('without the JetStream add-on leaves out jetstream and says so', () => {
    const withJs = [...planned, ...variantsOf('jetstream', { quick: true })];
    const { variants, notes } = runnable(withJs, (name) =>
      name === '@nats-io/jetstream' ? 'is not installed' : undefined,
    );
    expect(variants.map((v) => v.id)).toEqual(planned.map((v) => v.id));
    expect(notes).toEqual([expect.stringContaining('skipping jetstream')]);
  });
});

describe('counts', () => {
  it('countFor: the default, a quarter of it in a quick run, the command line over both', () => {
    expect(countFor({ quick: false }, 1_000_000)).toBe(1_000_000);
    expect(countFor({ quick: true }, 1_000_000)).toBe(250_000);
    expect(countFor({ quick: true }, 2)).toBe(1);
    expect(countFor({ quick: true, count: 7 }, 1_000_000)).toBe(7);
  });

  it('messageCount caps a measurement at 512 MiB of payload', () => {
    expect(messageCount(16)).toBe(1_000_000);
    expect(messageCount(512)).toBe(1_000_000);
    expect(messageCount(1024)).toBe(524_288);
    expect(messageCount(16 * 1024)).toBe(32_768);
  });
});

describe('scenarios', () => {
  it('pub runs the four sizes, or only the one given', () => {
    expect(variantsOf('pub').map((v) => [v.params.size, v.params.count])).toEqual([
      [16, 1_000_000],
      [128, 1_000_000],
      [1024, 524_288],
      [16384, 32_768],
    ]);
    const one = variantsOf('pub', { quick: false, size: 300, count: 5 });
    expect(one.map((v) => [v.id, v.label, v.params.size, v.params.count])).toEqual([
      ['pub-300', 'pub 300 B', 300, 5],
    ]);
  });

  it('every variant has a unique id, metrics, a time limit and both clients unless in-process', () => {
    for (const options of [DEFAULTS, { quick: true }, { quick: false, size: 1024, count: 10 }]) {
      const all = SCENARIOS.flatMap((s) => s.variants(options));
      expect(new Set(all.map((v) => v.id)).size).toBe(all.length);
      for (const v of all) {
        expect(v.metrics.length, v.id).toBeGreaterThan(0);
        expect(v.timeoutMs, v.id).toBeGreaterThan(0);
        expect(
          SCENARIOS.some((s) => s.name === v.scenario),
          v.id,
        ).toBe(true);
        if (v.needsServer) expect(v.clients, v.id).toEqual(CLIENTS);
      }
    }
  });

  it('the message size reaches every scenario that sends messages', () => {
    const options = { quick: false, size: 2048 };
    for (const name of ['sub', 'pubsub', 'pubrecv', 'reqrep', 'lag']) {
      for (const v of variantsOf(name, options)) {
        if (v.id !== 'reqrep-16m') expect(v.params.size, v.id).toBe(2048);
      }
    }
  });

  it('reqrep round-trips 16 MiB against a server allowing it, at most 40 times (10 quick)', () => {
    const large = (options: { quick: boolean; count?: number }) =>
      variantsOf('reqrep', options).find((v) => v.id === 'reqrep-16m');
    expect(large({ quick: false })?.params).toMatchObject({ size: 16 * 1024 * 1024, count: 40 });
    expect(large({ quick: false })?.serverConfig).toBe('max_payload: 64MB');
    expect(large({ quick: true, count: 2000 })?.params.count).toBe(10);
    expect(large({ quick: false, count: 3 })?.params.count).toBe(3);
  });

  it('pubrecv publishes 1 M while receiving 100 k msgs/s; a quick run scales count and warm-up', () => {
    const [full] = variantsOf('pubrecv');
    expect(full.params).toMatchObject({ size: 128, count: 1_000_000, rate: 100_000 });
    const [quick] = variantsOf('pubrecv', { quick: true });
    expect(quick.params.count).toBe(250_000);
    expect(quick.params.warmupMs).toBe(full.params.warmupMs / QUICK);
    expect(quick.params.rate).toBe(100_000);
  });

  it('lag has a plain and a TLS variant', () => {
    expect(variantsOf('lag').map((v) => Boolean(v.tls))).toEqual([false, true]);
  });

  it('lag16k receives 16 KiB × 6,000 msgs/s, plain and TLS, whatever --size says', () => {
    for (const options of [DEFAULTS, { quick: false, size: 128 }]) {
      const variants = variantsOf('lag16k', options);
      expect(variants.map((v) => [v.id, Boolean(v.tls), v.params.size, v.params.rate])).toEqual([
        ['lag16k-plain', false, 16384, 6000],
        ['lag16k-tls', true, 16384, 6000],
      ]);
    }
  });

  it('sub and pubsub add a 300k burst next to the 1 M run, unless a count is given', () => {
    for (const name of ['sub', 'pubsub']) {
      expect(variantsOf(name).map((v) => [v.id, v.params.count])).toEqual([
        [name, 1_000_000],
        [`${name}-short`, 300_000],
      ]);
      expect(variantsOf(name, { quick: true }).map((v) => v.params.count)).toEqual([
        250_000, 75_000,
      ]);
      expect(variantsOf(name, { quick: false, count: 10 }).map((v) => v.id)).toEqual([name]);
      // 16 KiB runs are 32k messages long already: no shorter burst beside them.
      expect(variantsOf(name, { quick: false, size: 16384 }).map((v) => v.id)).toEqual([name]);
    }
    const metrics = variantsOf('sub')[0].metrics.map((m) => m.key);
    expect(metrics.slice(0, 4)).toEqual([
      'msgsPerSec',
      'mbPerSec',
      'mainUsPerMsg',
      'workerUsPerMsg',
    ]);
  });

  it('pubtls publishes 16 KiB over TLS; burst and service have their issue-16 sizes', () => {
    expect(variantsOf('pubtls').map((v) => [v.tls, v.params.size, v.metrics[0].key])).toEqual([
      [true, 16384, 'mbPerSec'],
    ]);
    const [b] = variantsOf('burst');
    expect(b.params).toMatchObject({ size: 128, count: 500_000 });
    expect(variantsOf('burst', { quick: true })[0].params.idleMs).toBe(b.params.idleMs / QUICK);
    const [svc] = variantsOf('service');
    expect(svc.params).toEqual({ size: 180, count: 300_000 });
    expect(svc.metrics.find((m) => m.key === 'complete')?.flag).toBe(true);
  });
});

describe('burst timer', () => {
  it('tickStats counts the ticks inside the window and its longest stretch without one', () => {
    // Window 100..1100 ms: ticks at 100, 101, 102, then nothing until 602, then the end.
    const ticks = [50, 100, 101, 102, 602, 1200];
    const stats = tickStats(ticks, 100, 1100);
    expect(stats.ticksPerSec).toBe(4);
    expect(stats.longestGapMs).toBe(500);
    // No tick at all: the whole window is the gap.
    expect(tickStats([], 0, 250)).toEqual({ ticksPerSec: 0, longestGapMs: 250 });
  });
});

describe('summarise', () => {
  it('takes medians over the successful samples and the ratio nats-offload / nats.js', () => {
    const [ours, theirs] = CLIENTS;
    const rows = summarise(
      [ONE_METRIC],
      [
        sample('x', ours, 1, 300),
        sample('x', ours, 2, 100),
        sample('x', ours, 3, null),
        sample('x', theirs, 1, 50),
        sample('x', theirs, 2, 150),
        sample('x', theirs, 3, 100),
        sample('other', theirs, 1, 1e9),
      ],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].median).toEqual({ [ours]: 200, [theirs]: 100, raw: null });
    expect(rows[0].samples).toEqual({ [ours]: '2/3', [theirs]: '3/3', raw: '0/0' });
    expect(rows[0].ratio).toBe(2);
    expect(rows[0].ratioRaw).toBeNull();
  });

  it('gives the ratio to raw next to the ratio to nats.js', () => {
    const rows = summarise(
      [ONE_METRIC],
      [
        sample('x', 'nats-offload', 1, 300),
        sample('x', 'nats.js', 1, 100),
        sample('x', 'raw', 1, 400),
      ],
    );
    expect(rows[0].ratio).toBe(3);
    expect(rows[0].ratioRaw).toBe(0.75);
  });

  it('counts a flag metric over the reps instead of taking its median, with no ratio', () => {
    const flagged: Variant = {
      ...ONE_METRIC,
      metrics: [{ key: 'complete', label: 'complete', better: 'higher', flag: true }],
    };
    const yes = (client: Sample['client'], rep: number, complete: number): Sample => ({
      variant: 'x',
      client,
      rep,
      ok: true,
      metrics: { complete },
      wallMs: 1,
    });
    const rows = summarise(
      [flagged],
      [
        yes('nats-offload', 1, 1),
        yes('nats-offload', 2, 0),
        { variant: 'x', client: 'nats-offload', rep: 3, ok: false, error: 'x', wallMs: 1 },
        yes('nats.js', 1, 1),
        yes('nats.js', 2, 1),
        yes('raw', 1, 1),
      ],
    );
    expect(rows[0].median).toEqual({ 'nats-offload': 1, 'nats.js': 2, raw: 1 });
    expect(rows[0].ratio).toBeNull();
    expect(rows[0].ratioRaw).toBeNull();
    expect(table(rows).split('\n')[2]).toMatch(
      /^x 128 B\s+complete\s+1\/3\s+2\/2\s+1\/1\s+higher ↑$/,
    );
  });

  it('has no median and no ratio where every sample of a client failed', () => {
    const [ours, theirs] = CLIENTS;
    const rows = summarise([ONE_METRIC], [sample('x', ours, 1, null), sample('x', theirs, 1, 10)]);
    expect(rows[0].median[ours]).toBeNull();
    expect(rows[0].ratio).toBeNull();
    const text = table(rows);
    expect(text).toContain('failed (0/1 ok)');
    expect(text.split('\n')[2]).not.toMatch(/×/);
  });
});

describe('table', () => {
  it('aligns values, marks partly failed medians, and says which way is better', () => {
    const [ours, theirs] = CLIENTS;
    const latency: Variant = {
      ...ONE_METRIC,
      id: 'y',
      label: 'y',
      clients: [ours, theirs],
      metrics: [{ key: 'p50', label: 'p50 ms', better: 'lower' }],
    };
    const rows = summarise(
      [ONE_METRIC, latency],
      [
        sample('x', ours, 1, 2_500_000),
        sample('x', theirs, 1, 625_000),
        sample('x', theirs, 2, null),
        sample('x', 'raw', 1, 5_000_000),
        { variant: 'y', client: ours, rep: 1, ok: true, metrics: { p50: 0.2 }, wallMs: 1 },
        { variant: 'y', client: theirs, rep: 1, ok: true, metrics: { p50: 0.4 }, wallMs: 1 },
      ],
    );
    const lines = table(rows).split('\n');
    expect(lines[0]).toMatch(
      /^scenario\s+metric\s+nats-offload\s+nats\.js\s+raw\s+ratio\s+× raw\s+better$/,
    );
    expect(lines[2]).toMatch(
      /^x 128 B\s+msgs\/s\s+2\.50 M\s+625 k \(1\/2 ok\)\s+5\.00 M\s+4\.00×\s+0\.50×\s+higher ↑$/,
    );
    expect(lines[3]).toMatch(/^y\s+p50 ms\s+0\.200\s+0\.400\s+–\s+0\.50×\s+lower ↓$/);
    const widths = new Set(lines.slice(0, 4).map((l) => l.length));
    expect(widths.size).toBe(1);
  });

  it('formatValue: three significant digits, k and M from 10^4 up', () => {
    expect(formatValue(1_234_567)).toBe('1.23 M');
    expect(formatValue(712_345)).toBe('712 k');
    expect(formatValue(999_700)).toBe('1.00 M'); // was '1.00e+3 k'
    expect(formatValue(12_345)).toBe('12.3 k');
    expect(formatValue(9_999)).toBe('9999');
    expect(formatValue(412.4)).toBe('412');
    expect(formatValue(0.41234)).toBe('0.412');
    expect(formatValue(null)).toBe('failed');
    expect(formatValue(Number.NaN)).toBe('failed');
  });
});
