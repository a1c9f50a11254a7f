/** Every scenario, in the order `all` runs them. */
import { jetstreamScenario } from './jetstream.js';
import { lag } from './lag.js';
import { micro } from './micro.js';
import { pub } from './pub.js';
import { pubrecv } from './pubrecv.js';
import { pubsub } from './pubsub.js';
import { reqrep } from './reqrep.js';
import { sub } from './sub.js';
import type { Scenario } from './types.js';

export const SCENARIOS: readonly Scenario[] = [
  pub,
  sub,
  pubsub,
  pubrecv,
  reqrep,
  lag,
  micro,
  jetstreamScenario,
];
