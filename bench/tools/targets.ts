/**
 * Issue 16's targets, read from result files of `npm run bench` (medians): one Markdown row per
 * target, one column per file, each cell the figure the target compares and whether it holds,
 * and the count of files in which it holds. The acceptance asks for every target in one run;
 * this shows, run by run, which ones each run met.
 *
 *   node dist/bench/tools/targets.js <results.json>...
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ClientName } from '../clients/types.js';
import type { Row } from '../report.js';

interface Results {
  summary: Row[];
}

/** One target: the figure it compares (undefined when the file lacks it) and its bound. */
interface Target {
  row: string;
  figure(r: Median): number | undefined;
  holds(figure: number): boolean;
  format(figure: number): string;
}

/** The median of `metric` of `variant` for `client`. */
type Median = (variant: string, metric: string, client: ClientName) => number | undefined;

const times = (n: number) => `${n.toFixed(2)}×`;

/** Ours over a reference client's figure of the same variant and metric. */
function ratio(variant: string, metric: string, to: ClientName) {
  return (r: Median) => {
    const ours = r(variant, metric, 'nats-offload');
    const theirs = r(variant, metric, to);
    return ours === undefined || theirs === undefined ? undefined : ours / theirs;
  };
}

/** A target on ours over `to`'s figure: at least (≥) or at most (≤) `bound` times it. */
const bounded =
  (sense: '≥' | '≤') =>
  (row: string, variant: string, metric: string, to: ClientName, bound: number): Target => ({
    row: `${row} ${sense} ${bound === 1 ? '' : `${bound}× `}${to}`,
    figure: ratio(variant, metric, to),
    holds: (x) => (sense === '≥' ? x >= bound : x <= bound),
    format: times,
  });
const atLeast = bounded('≥');
const atMost = bounded('≤');

const TARGETS: Target[] = [
  {
    row: 'request sequential p50 ≤ raw + 60 µs',
    figure: (r) => {
      const ours = r('reqrep-seq', 'p50 ms', 'nats-offload');
      const raw = r('reqrep-seq', 'p50 ms', 'raw');
      return ours === undefined || raw === undefined ? undefined : (ours - raw) * 1000;
    },
    holds: (us) => us <= 60,
    format: (us) => `+${us.toFixed(0)} µs`,
  },
  atMost('request sequential p50', 'reqrep-seq', 'p50 ms', 'nats.js', 1.15),
  atLeast('request 100 in flight', 'reqrep-100', 'req/s', 'raw', 0.85),
  atLeast('pub 16 B', 'pub-16', 'msgs/s', 'raw', 0.8),
  atLeast('pub 128 B', 'pub-128', 'msgs/s', 'raw', 0.8),
  atLeast('pub 1 KiB', 'pub-1024', 'MB/s', 'raw', 0.9),
  atLeast('sub 128 B (1 M)', 'sub', 'msgs/s', 'raw', 0.9),
  atLeast('sub 128 B, 300k burst', 'sub-short', 'msgs/s', 'raw', 0.9),
  atLeast('pubsub 128 B', 'pubsub', 'msgs/s', 'raw', 0.8),
  atMost('sub CPU per message, all threads', 'sub', 'all threads CPU µs/msg', 'nats.js', 1),
  atMost('sub CPU per message, main thread', 'sub', 'main CPU µs/msg', 'nats.js', 0.3),
  {
    row: 'service callback complete at defaults (of 3)',
    figure: (r) => r('service', 'complete', 'nats-offload'),
    holds: (n) => n === 3,
    format: (n) => `${n}/3`,
  },
  atLeast('service callback', 'service', 'msgs/s', 'nats.js', 1.5),
  atLeast('publish 16 KiB over TLS', 'pubtls-16384', 'MB/s', 'nats.js', 1.5),
  atMost('main ELU, 16 KiB × 6,000/s plain', 'lag16k-plain', 'main ELU', 'raw', 1),
  atMost('main ELU, 16 KiB × 6,000/s TLS', 'lag16k-tls', 'main ELU', 'raw', 0.8),
  atMost('main ELU, 128 B × 100k/s plain', 'lag-plain', 'main ELU', 'raw', 1),
  atMost('main ELU, 128 B × 100k/s TLS', 'lag-tls', 'main ELU', 'raw', 1),
  {
    row: 'burst timer ≥ 800 ticks/s',
    figure: (r) => r('burst', 'timer ticks/s', 'nats-offload'),
    holds: (n) => n >= 800,
    format: (n) => `${n.toFixed(0)}/s`,
  },
  atMost('burst longest gap', 'burst', 'longest gap ms', 'raw', 1),
];

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node dist/bench/tools/targets.js <results.json>...\n');
  process.exit(2);
}

const medians: Median[] = files.map((file) => {
  const { summary } = JSON.parse(readFileSync(file, 'utf8')) as Results;
  return (variant, metric, client) =>
    summary.find((row) => row.variant === variant && row.metric === metric)?.median[client] ??
    undefined;
});

// Result files are named by date first (docs/results): the rest tells the runs apart.
const names = files.map((file) => basename(file, '.json').replace(/^\d{4}-\d{2}-\d{2}-/, ''));
const lines = [
  `| target | ${names.join(' | ')} | met in |`,
  `| --- | ${names.map(() => '---:').join(' | ')} | ---: |`,
];
for (const target of TARGETS) {
  let met = 0;
  const cells = medians.map((median) => {
    const figure = target.figure(median);
    if (figure === undefined || !Number.isFinite(figure)) return '–';
    if (!target.holds(figure)) return target.format(figure);
    met++;
    return `**${target.format(figure)}**`;
  });
  lines.push(`| ${target.row} | ${cells.join(' | ')} | ${met}/${files.length} |`);
}
lines.push('', 'Bold: the target holds in that run.');
process.stdout.write(`${lines.join('\n')}\n`);
