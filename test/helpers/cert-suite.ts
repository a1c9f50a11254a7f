// What the TLS and WebSocket suites set up per file: certificates made once (openssl), the
// clients each test opens and what it leaves to clean up, every server stopped at the end.

import type { Client } from 'nats-offload';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { makeTestCerts, type TestCerts } from './certs.js';
import { stopAll } from './nats-server.js';

export interface CertSuite {
  /** Made before the file's first test. */
  readonly certs: TestCerts;
  /** Closed after each test. */
  readonly clients: Client[];
  /** Run after each test, the last one added first. */
  readonly cleanups: (() => Promise<void>)[];
}

/** Registers the file's hooks; call once at the top of a test file. */
export function certSuite(): CertSuite {
  let certs: TestCerts | undefined;
  const clients: Client[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    certs = await makeTestCerts();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    await stopAll();
    await certs?.remove();
  });

  return {
    get certs(): TestCerts {
      if (certs === undefined) throw new Error('certificates are made in beforeAll');
      return certs;
    },
    clients,
    cleanups,
  };
}
