// @ts-check
// Authentication with a .creds file (decentralised JWT auth) or an NKey seed. The server's nonce
// is signed on the connection worker; the seed never shows in errors or logs.
// Run: NATS_CREDS=user.creds node examples/auth.mjs [url]
//  or: NATS_NKEY_SEED=SU... node examples/auth.mjs [url]
import { ConnectOptions } from 'nats-offload';

const url = process.argv[2] ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const { NATS_CREDS, NATS_NKEY_SEED } = process.env;

let options;
if (NATS_CREDS) options = await ConnectOptions.withCredentialsFile(NATS_CREDS);
else if (NATS_NKEY_SEED) options = ConnectOptions.withNkey(NATS_NKEY_SEED);
else throw new Error('set NATS_CREDS (a .creds file) or NATS_NKEY_SEED');

// A refused identity rejects with kind 'authorizationViolation'.
const nc = await options.name('auth-example').connect(url);
console.log(`authenticated with ${NATS_CREDS ? 'creds' : 'nkey'}; state ${nc.connectionState()}`);
await nc.close();
