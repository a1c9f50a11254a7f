/** Every scenario, in the order `all` runs them. */
import { burst } from './burst.js';
import { jetstreamScenario } from './jetstream.js';
import { lag, lag16k } from './lag.js';
import { micro } from './micro.js';
import { pub, pubtls } from './pub.js';
import { pubrecv } from './pubrecv.js';
import { pubsub } from './pubsub.js';
import { reqrep } from './reqrep.js';
import { service } from './service.js';
import { sub } from './sub.js';
import type { Scenario } from './types.js';

export const SCENARIOS: readonly Scenario[] = [
  pub,
  pubtls,
  sub,
  pubsub,
  pubrecv,
  reqrep,
  lag,
  lag16k,
  burst,
  service,
  micro,
  jetstreamScenario,
];
