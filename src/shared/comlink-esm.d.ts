/** Comlink's ES module build (see comlink.ts): the package ships its types for the UMD "main" only. */
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink';
}
