/**
 * The bench's optional packages. The published package depends on neither: without nats.js the
 * bench measures nats-offload and the raw-socket ceiling only, without tinybench it leaves out `micro`, without
 * the JetStream add-on `jetstream`, and says so, instead of failing on an import.
 */
import type { Variant } from './scenarios/types.js';

export const NATS_JS_PACKAGE = '@nats-io/transport-node';
const TINYBENCH_PACKAGE = 'tinybench';
const JETSTREAM_PACKAGE = '@nats-io/jetstream';

/** Whether `name` can be imported from the bench (a dev checkout, or the user's project). */
export function installed(name: string): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** The variants the installed packages can run, and a note for each thing left out. */
export function runnable(
  planned: Variant[],
  isInstalled = installed,
): { variants: Variant[]; notes: string[] } {
  const notes: string[] = [];
  let variants = planned;
  if (!isInstalled(NATS_JS_PACKAGE) && variants.some((v) => v.clients.includes('nats.js'))) {
    variants = variants.map((v) => ({ ...v, clients: v.clients.filter((c) => c !== 'nats.js') }));
    notes.push(
      `nats.js (${NATS_JS_PACKAGE}) is not installed: measuring nats-offload and the raw ` +
        `socket only; npm install ${NATS_JS_PACKAGE} for the comparison`,
    );
  }
  if (!isInstalled(TINYBENCH_PACKAGE) && variants.some((v) => v.scenario === 'micro')) {
    variants = variants.filter((v) => v.scenario !== 'micro');
    notes.push(`${TINYBENCH_PACKAGE} is not installed: skipping micro; npm install tinybench`);
  }
  if (!isInstalled(JETSTREAM_PACKAGE) && variants.some((v) => v.scenario === 'jetstream')) {
    variants = variants.filter((v) => v.scenario !== 'jetstream');
    notes.push(
      `${JETSTREAM_PACKAGE} is not installed: skipping jetstream; npm install ${JETSTREAM_PACKAGE} @nats-io/nats-core`,
    );
  }
  return { variants, notes };
}
