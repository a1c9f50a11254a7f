/** Medians, ratios and the terminal table. */
import { CLIENTS, type ClientName } from './clients/types.js';
import type { Sample } from './runner.js';
import type { Metric, Variant } from './scenarios/types.js';
import { median } from './stats.js';

export interface Row {
  variant: string;
  label: string;
  metric: string;
  better: Metric['better'];
  /**
   * Median over the successful samples; null when every sample failed. For a `flag` metric,
   * the number of samples where it held.
   */
  median: Partial<Record<ClientName, number | null>>;
  /** `ok/total` samples per client. */
  samples: Partial<Record<ClientName, string>>;
  /** median(nats-offload) / median(nats.js); null when either is missing. */
  ratio: number | null;
  /** median(nats-offload) / median(raw): how close to the ceiling; null when either is missing. */
  ratioRaw: number | null;
  /** True for a yes/no metric: the medians are counts and the cells read `held/total`. */
  flag?: boolean;
}

export function summarise(variants: Variant[], samples: Sample[]): Row[] {
  const rows: Row[] = [];
  for (const variant of variants) {
    const mine = samples.filter((s) => s.variant === variant.id);
    for (const metric of variant.metrics) {
      const row: Row = {
        variant: variant.id,
        label: variant.label,
        metric: metric.label,
        better: metric.better,
        median: {},
        samples: {},
        ratio: null,
        ratioRaw: null,
        ...(metric.flag ? { flag: true } : {}),
      };
      for (const client of variant.clients) {
        const all = mine.filter((s) => s.client === client);
        const values = all.flatMap((s) => (s.ok && s.metrics ? [s.metrics[metric.key]] : []));
        if (metric.flag) row.median[client] = values.filter((v) => v === 1).length;
        else row.median[client] = values.length ? median(values) : null;
        row.samples[client] = `${values.length}/${all.length}`;
      }
      if (!metric.flag) {
        row.ratio = ratioOf(row, 'nats.js');
        row.ratioRaw = ratioOf(row, 'raw');
      }
      rows.push(row);
    }
  }
  return rows;
}

function ratioOf(row: Row, other: ClientName): number | null {
  const ours = row.median['nats-offload'];
  const theirs = row.median[other];
  return typeof ours === 'number' && typeof theirs === 'number' && theirs !== 0
    ? ours / theirs
    : null;
}

/** `1.23 M`, `712 k`, `0.412`: three significant digits, SI prefixes from 10^4 up. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return 'failed';
  // From 999.5 k up: three digits of k would round to 1000, which toPrecision writes as 1.00e+3.
  if (Math.abs(value) >= 999_500) return `${(value / 1e6).toPrecision(3)} M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toPrecision(3)} k`;
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/** The results as an aligned text table; failed samples are marked next to the median. */
export function table(rows: Row[]): string {
  const header = ['scenario', 'metric', ...CLIENTS, 'ratio', '× raw', 'better'];
  const times = (ratio: number | null) => (ratio === null ? '' : `${ratio.toFixed(2)}×`);
  const body = rows.map((row) => [
    row.label,
    row.metric,
    ...CLIENTS.map((client) => cell(row, client)),
    times(row.ratio),
    times(row.ratioRaw),
    row.better === 'higher' ? 'higher ↑' : 'lower ↓',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    line(header),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...body.map(line),
    '',
    'ratio = nats-offload / nats.js, × raw = nats-offload / raw (medians; raw is a bare socket on',
    'the main thread, the ceiling); "better" says which direction favours nats-offload.',
  ].join('\n');
}

function cell(row: Row, client: ClientName): string {
  const count = row.samples[client];
  if (count === undefined) return '–';
  const [ok, total] = count.split('/');
  if (row.flag) return `${row.median[client]}/${total}`;
  const mark = ok === total ? '' : ` (${count} ok)`;
  return formatValue(row.median[client]) + mark;
}
