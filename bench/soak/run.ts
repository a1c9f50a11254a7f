/**
 * One soak scenario in a process of its own: `node --expose-gc dist/bench/soak/run.js <name>
 * [--quick]`. Forked by cli.js, it sends its FigureResult over IPC; run by hand, it prints the
 * verdict line and the JSON. Any nats-server it started is stopped before it exits.
 */
import { stopAll } from '../../test/helpers/nats-server.js';
import type { FigureResult } from './figure.js';
import { SCENARIOS } from './scenarios/index.js';

const [name, ...flags] = process.argv.slice(2);
const quick = flags.includes('--quick');
const scenario = SCENARIOS.find((s) => s.name === name);
if (!scenario) {
  process.stderr.write(`usage: run.js <${SCENARIOS.map((s) => s.name).join('|')}> [--quick]\n`);
  process.exit(2);
}

const started = performance.now();
let result: FigureResult;
try {
  const outcome = await scenario.run({ quick });
  result = { name, figure: scenario.figure, quick, durationMs: 0, ...outcome };
} catch (error) {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  result = {
    name,
    figure: scenario.figure,
    quick,
    durationMs: 0,
    ok: false,
    verdict: `did not finish: ${text.split('\n')[0]}`,
    checks: [],
    measured: {},
    error: text,
  };
} finally {
  await stopAll();
}
result.durationMs = Math.round(performance.now() - started);

if (process.send) {
  process.send(result, () => process.exit(0));
} else {
  process.stdout.write(`${result.ok ? 'PASS' : 'MISS'} ${name}: ${result.verdict}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(result.ok ? 0 : 1);
}
