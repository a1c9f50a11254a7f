/**
 * CommonJS packages only some connections need (nkeys.js for NKey auth, ws for WebSocket),
 * loaded on first use with require(). A static import from an ES module makes Node scan the
 * package's files for export names with cjs-module-lexer on every thread at start-up, and the
 * scan runs hot enough for TurboFan to compile it (≈ 40 ms on a compiler thread), which in the
 * worker overlaps the connection's first traffic; require() loads the same module without
 * the scan, and only where it is used.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A loader for package `name`: the first call requires it, later ones return the same module. */
export function lazyPackage<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(name) as T;
    return loaded;
  };
}
