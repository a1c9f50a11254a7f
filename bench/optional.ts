/**
 * The bench's optional packages. The published package depends on neither: without nats.js the
 * bench measures nats-offload and the raw-socket ceiling only, without tinybench it leaves out `micro`, without
 * the JetStream add-on `jetstream`, and says so, instead of failing on an import.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Variant } from './scenarios/types.js';

export const NATS_JS_PACKAGE = '@nats-io/transport-node';
const TINYBENCH_PACKAGE = 'tinybench';
const JETSTREAM_PACKAGE = '@nats-io/jetstream';

/** The major version each optional package's API is used at; an older one is left out too. */
const LEAST_MAJOR: Record<string, number> = {
  [NATS_JS_PACKAGE]: 3,
  [TINYBENCH_PACKAGE]: 6,
  [JETSTREAM_PACKAGE]: 3,
};

/**
 * Why the bench cannot use `name` from where it runs (a dev checkout, or the user's project,
 * which may hold any version of it), or undefined when it can.
 */
export function unusable(name: string): string | undefined {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(name));
  } catch {
    return 'is not installed';
  }
  const version = versionOf(name, entry);
  const least = LEAST_MAJOR[name] ?? 0;
  if (version !== undefined && Number.parseInt(version, 10) >= least) return undefined;
  return `${version ?? 'of an unknown version'} is installed; the bench needs ${least} or later`;
}

/** The version in the package.json of `name` above its entry file. */
function versionOf(name: string, entry: string): string | undefined {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (manifest.name === name) return String(manifest.version);
    } catch {
      // no package.json here (or not one that parses): look further up
    }
  }
  return undefined;
}

/** The variants the installed packages can run, and a note for each thing left out. */
export function runnable(
  planned: Variant[],
  why = unusable,
): { variants: Variant[]; notes: string[] } {
  const notes: string[] = [];
  let variants = planned;
  const nats = why(NATS_JS_PACKAGE);
  if (nats !== undefined && variants.some((v) => v.clients.includes('nats.js'))) {
    variants = variants.map((v) => ({ ...v, clients: v.clients.filter((c) => c !== 'nats.js') }));
    notes.push(
      `nats.js (${NATS_JS_PACKAGE}) ${nats}: measuring nats-offload and the raw ` +
        `socket only; npm install ${NATS_JS_PACKAGE}@3 for the comparison`,
    );
  }
  const tinybench = why(TINYBENCH_PACKAGE);
  if (tinybench !== undefined && variants.some((v) => v.scenario === 'micro')) {
    variants = variants.filter((v) => v.scenario !== 'micro');
    notes.push(`${TINYBENCH_PACKAGE} ${tinybench}: skipping micro; npm install tinybench@6`);
  }
  const jetstream = why(JETSTREAM_PACKAGE);
  if (jetstream !== undefined && variants.some((v) => v.scenario === 'jetstream')) {
    variants = variants.filter((v) => v.scenario !== 'jetstream');
    notes.push(
      `${JETSTREAM_PACKAGE} ${jetstream}: skipping jetstream; npm install ${JETSTREAM_PACKAGE}@3 @nats-io/nats-core@3`,
    );
  }
  return { variants, notes };
}
