/**
 * Progress on stderr: a line per finished measurement and, on a terminal, a bar below them
 * naming the measurement under way. stdout stays free for the table or the JSON.
 */
import { formatValue } from './report.js';
import type { Measurement, Sample } from './runner.js';

const BAR_WIDTH = 24;

export class Progress {
  private done = 0;
  private readonly started = performance.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly total: number) {}

  /** A measurement begins: redraw the bar with its name. */
  start(m: Measurement): void {
    if (this.tty) this.draw(`${describe(m)} …`);
  }

  /** A measurement ended: replace the bar with a line of its headline (or its error). */
  finish(m: Measurement, sample: Sample): void {
    this.done++;
    const metric = m.variant.metrics[0];
    const value = sample.ok
      ? `${formatValue(sample.metrics?.[metric.key])} ${metric.label}`
      : `FAILED: ${sample.error?.split('\n')[0]}`;
    const warning = sample.warning ? ` (warning: ${sample.warning})` : '';
    this.clear();
    process.stderr.write(`[${this.done}/${this.total}] ${describe(m)}: ${value}${warning}\n`);
  }

  private draw(text: string): void {
    const filled = Math.round((this.done / this.total) * BAR_WIDTH);
    const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
    const seconds = Math.round((performance.now() - this.started) / 1000);
    process.stderr.write(`\r\x1b[K${bar} ${this.done}/${this.total} ${seconds}s ${text}`);
  }

  private clear(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}

function describe(m: Measurement): string {
  return `${m.variant.label} · ${m.client} · rep ${m.rep}`;
}
