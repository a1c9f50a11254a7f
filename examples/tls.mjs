// @ts-check
// TLS and mutual TLS: trust a private CA, and present a client certificate when the server asks
// for one. The handshake and all encryption run on the connection worker.
// Run: NATS_CA=ca.pem [NATS_CERT=client.pem NATS_KEY=client-key.pem] node examples/tls.mjs tls://host:4222
import { ConnectOptions, NatsError } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'tls://127.0.0.1:4222';
const { NATS_CA, NATS_CERT, NATS_KEY } = process.env;

const options = new ConnectOptions().requireTls(true);
if (NATS_CA) options.addRootCertificates(NATS_CA); // files are read (and checked) here
if (NATS_CERT && NATS_KEY) options.addClientCertificate(NATS_CERT, NATS_KEY);

try {
  const nc = await options.connect(url);
  console.log(`connected over TLS to ${nc.serverInfo().serverName || url}`);
  console.log('rtt ms:', (await nc.rtt()).toFixed(2));
  await nc.close();
} catch (error) {
  // Unknown CA, wrong host name, a refused client certificate...: all kind 'tls'.
  if (!(error instanceof NatsError)) throw error;
  console.log(`cannot connect: ${error.kind}: ${error.message}`);
  process.exitCode = 1;
}
