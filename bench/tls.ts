/**
 * TLS for the variants measured over it (`Variant.tls`): certificates made once per run by the
 * test helper (openssl, in a temp dir) and the server config that serves them.
 *
 * The server also accepts plain clients (`allow_non_tls`, a top-level option: nats-server 2.9
 * rejects it inside `tls {}`), so the raw-socket peers publish exactly as in the plain variants
 * and only the measured client's connection differs. That client has to ask for TLS itself
 * (the server offers it, it does not require it); the adapters do, and fail otherwise.
 */
import { makeTestCerts, tlsBlock } from './support/certs.js';

export interface BenchTls {
  /** The CA the clients trust; it signed the server's certificate (127.0.0.1 and localhost). */
  ca: string;
  /** nats-server config text to append to the generated `listen` line. */
  serverConfig: string;
  /** Deletes the certificates. */
  remove(): Promise<void>;
}

export async function makeBenchTls(): Promise<BenchTls> {
  const certs = await makeTestCerts();
  return {
    ca: certs.ca,
    serverConfig: `${tlsBlock(certs.server)}\nallow_non_tls: true`,
    remove: certs.remove,
  };
}
