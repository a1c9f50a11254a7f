/**
 * Comlink's runtime, loaded from its ES module build (the file its package.json names as
 * "module", for bundlers). The package (4.4.2, the latest) has no "exports" map, and its
 * "main" is a UMD (CommonJS) file, which Node, importing it from an ES module, first scans for
 * export names with cjs-module-lexer: about 12 ms more per thread to import (25–28 against
 * 12–16 ms), and the scan runs hot enough for TurboFan to compile it, ≈ 90 ms on a compiler
 * thread, which in the worker overlaps the connection's first traffic. Types come from the
 * package as usual. The path import works because there is no "exports" map; package.json
 * pins comlink to 4.4.x, so a release that adds one (comlink issue 508 proposes it) is taken
 * on purpose.
 */
import type * as Api from 'comlink';
import * as esm from 'comlink/dist/esm/comlink.mjs';

export type { Endpoint, Remote } from 'comlink';
export const expose: typeof Api.expose = esm.expose;
export const proxy: typeof Api.proxy = esm.proxy;
export const releaseProxy: typeof Api.releaseProxy = esm.releaseProxy;
export const wrap: typeof Api.wrap = esm.wrap;
