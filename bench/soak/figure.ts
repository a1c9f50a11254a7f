/**
 * What a soak scenario is and what it reports: one figure of issue 13, its target, the
 * measured values and a verdict. Each scenario runs in a process of its own (run.ts), so that
 * heap, file descriptors and threads are its own.
 */

export interface RunOptions {
  /** The short run CI does: small counts, same checks. */
  quick: boolean;
}

/** What a scenario measured and whether the figure was reached. */
export interface Outcome {
  ok: boolean;
  /** One line: what was measured against what target. */
  verdict: string;
  checks: Check[];
  /** Every number behind the verdict. */
  measured: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  /** The figure as issue 13 words it, with the target. */
  figure: string;
  run(options: RunOptions): Promise<Outcome>;
}

/** One line of a result document: a scenario's outcome, or why it did not finish. */
export interface FigureResult extends Outcome {
  name: string;
  figure: string;
  quick: boolean;
  /** Wall time of the scenario's process. */
  durationMs: number;
  /** Set when the scenario failed to run to the end (a crash, a timeout), not a missed figure. */
  error?: string;
}

/** One comparison behind a verdict: a stable id (tests look it up), what was compared, the result. */
export interface Check {
  id: string;
  held: boolean;
  text: string;
  /**
   * A bound on elapsed time or on a rate: judged by the soak run, only reported by CI's
   * quick run (a loaded CI host must not fail a build on a slow scheduler).
   */
  timing?: true;
}

/** Checks for a verdict: each names what it compared; the outcome is ok when all hold. */
export class Checks {
  private readonly list: Check[] = [];

  /** Records check `id` as held or missed; `text` says measured against target. */
  expect(id: string, held: boolean, text: string, kind?: 'timing'): void {
    this.list.push(kind === 'timing' ? { id, held, text, timing: true } : { id, held, text });
  }

  get ok(): boolean {
    return this.list.every((c) => c.held);
  }

  /** `summary` when every check held, else the summary and the missed checks. */
  outcome(summary: string, measured: Record<string, unknown>): Outcome {
    const missed = this.list.filter((c) => !c.held).map((c) => c.text);
    const verdict = missed.length ? `${summary}; MISSED: ${missed.join('; ')}` : summary;
    return { ok: this.ok, verdict, checks: this.list, measured };
  }
}
