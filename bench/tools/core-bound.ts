/**
 * Reads a result file's CPU rows (medians) and prints, per variant that has them, a Markdown
 * table: CPU µs per message of each thread and process, the cores the measurement kept busy and
 * the host's, the measured rate, the rate the core-bound model (core-bound.ts) predicts on 2
 * cores and on `--cores N` (default 4), and each client's measured and predicted ratio to raw.
 *
 *   node dist/bench/tools/core-bound.js <results.json> [--cores N]
 */
import { readFileSync } from 'node:fs';
import type { ClientName } from '../clients/types.js';
import { type PartCosts, predictedRate, totalCost } from '../core-bound.js';
import { formatValue, type Row } from '../report.js';
import type { Variant } from '../scenarios/types.js';
import { takeNumber } from './tool-args.js';

const args = process.argv.slice(2);
const cores = takeNumber(args, '--cores', 4);
const [file] = args;
if (!file || !Number.isInteger(cores) || cores < 1) {
  process.stderr.write('usage: node dist/bench/tools/core-bound.js <results.json> [--cores N]\n');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, 'utf8')) as { variants: Variant[]; summary: Row[] };

const RATE_KEYS = ['msgsPerSec', 'reqPerSec'];

for (const variant of doc.variants) {
  if (!variant.metrics.some((m) => m.key === 'totalUsPerMsg')) continue;
  const value = (key: string, client: ClientName): number => {
    const label = variant.metrics.find((m) => m.key === key)?.label;
    const row = doc.summary.find((r) => r.variant === variant.id && r.metric === label);
    return row?.median[client] ?? (label ? Number.NaN : 0);
  };
  const rateKey = variant.metrics.find((m) => RATE_KEYS.includes(m.key))?.key ?? 'msgsPerSec';
  const lines = variant.clients.map((client) => {
    const parts: PartCosts = {
      main: value('mainUsPerMsg', client),
      worker: value('workerUsPerMsg', client),
      helpers: value('helpersUsPerMsg', client),
      server: value('serverUsPerMsg', client),
      peer: value('peerUsPerMsg', client),
    };
    const measured = value(rateKey, client);
    const onTwo = predictedRate(parts, 2);
    return { client, parts, measured, onTwo, onMore: predictedRate(parts, cores), value };
  });
  const raw = lines.find((l) => l.client === 'raw');
  const toRaw = (ours: number, theirs: number | undefined) =>
    theirs ? `${(ours / theirs).toFixed(2)}×` : '';
  const fixed = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '–');
  const header = [
    'client',
    'main',
    'worker',
    'other threads',
    'nats-server',
    'peer',
    'total',
    'cores busy',
    'host busy',
    'measured /s',
    'predicted on 2 cores',
    'measured / predicted',
    `predicted on ${cores}`,
    '× raw measured',
    `× raw predicted 2 / ${cores}`,
  ];
  process.stdout.write(
    `\n${variant.label}: CPU µs per ${rateKey === 'reqPerSec' ? 'request' : 'message'}\n\n`,
  );
  process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|\n`);
  for (const l of lines) {
    const cells = [
      l.client,
      fixed(l.parts.main),
      fixed(l.parts.worker),
      fixed(l.parts.helpers),
      fixed(l.parts.server),
      fixed(l.parts.peer),
      fixed(totalCost(l.parts)),
      fixed(l.value('coresBusy', l.client)),
      fixed(l.value('hostCoresBusy', l.client)),
      formatValue(l.measured),
      formatValue(l.onTwo),
      (l.measured / l.onTwo).toFixed(2),
      formatValue(l.onMore),
      toRaw(l.measured, raw?.measured),
      `${toRaw(l.onTwo, raw?.onTwo)} / ${toRaw(l.onMore, raw?.onMore)}`,
    ];
    process.stdout.write(`| ${cells.join(' | ')} |\n`);
  }
}
