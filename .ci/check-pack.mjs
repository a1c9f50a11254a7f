// Fails when the tarball `npm pack` would publish lacks a file that package.json names (the
// `exports` targets, `main`, `types`, every `bin`) or a module one of them loads: relative
// static and dynamic imports and `new URL('./x.js', import.meta.url)` (the connection worker,
// the bench's measurement process), followed through the built files. Run after the build.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const [pack] = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' }),
);
const packed = new Set(pack.files.map((f) => f.path));

const targets = (value) =>
  typeof value === 'string' ? [value] : Object.values(value ?? {}).flatMap(targets);
const named = [...targets(pkg.exports), pkg.main, pkg.types, ...targets(pkg.bin)];

const LOADS =
  /(?:from\s*|import\s*\(\s*)'(\.{1,2}\/[^']+\.js)'|new URL\('(\.{1,2}\/[^']+\.js)', import\.meta\.url\)/g;
const needed = new Set();
const queue = named.map((file) => path.posix.normalize(file));
while (queue.length > 0) {
  const file = queue.pop();
  if (needed.has(file)) continue;
  needed.add(file);
  if (!file.endsWith('.js')) continue;
  for (const [, imported, url] of readFileSync(file, 'utf8').matchAll(LOADS)) {
    queue.push(path.posix.join(path.posix.dirname(file), imported ?? url));
  }
}

const missing = [...needed].filter((file) => !packed.has(file));
if (missing.length > 0) {
  console.error(`npm pack would leave out: ${missing.join(', ')}`);
  process.exit(1);
}
console.log(
  `npm pack: ${packed.size} files, with all ${needed.size} that package.json names or loads`,
);
