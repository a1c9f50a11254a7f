// For the project's own tests, not part of the public API (index.ts does not export it): what
// a test cannot do through API.md, such as making the connection worker die.
import type { Client } from './client.js';

/** Terminates the client's connection worker, as a crash would. */
export function terminateWorker(client: Client): Promise<number> {
  // biome-ignore lint/complexity/useLiteralKeys: element access reaches the private field on purpose
  return client['parts'].host.terminate();
}

/** How many dispatch slices the last message continued across ring frames took to assemble. */
export function lastAssemblySlices(client: Client): number {
  // biome-ignore lint/complexity/useLiteralKeys: element access reaches the private field on purpose
  return client['parts'].dispatcher.lastAssemblySlices;
}
