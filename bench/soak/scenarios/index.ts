/** The soak scenarios, in the order of issue 13's figures. */
import type { Scenario } from '../figure.js';
import { cycles } from './cycles.js';
import { forceReconnect } from './force-reconnect.js';
import { fuzzClient } from './fuzz-client.js';
import { hostileServer } from './hostile-server.js';
import { parserFuzz } from './parser-fuzz.js';
import { restarts } from './restarts.js';
import { unawaitedPublish } from './unawaited-publish.js';
import { workerDeath } from './worker-death.js';

export const SCENARIOS: Scenario[] = [
  workerDeath,
  parserFuzz,
  fuzzClient,
  restarts,
  forceReconnect,
  cycles,
  unawaitedPublish,
  hostileServer,
];
