/** The soak scenarios, in the order of issue 13's figures. */
import type { Scenario } from '../figure.js';
import { fuzzClient } from './fuzz-client.js';
import { parserFuzz } from './parser-fuzz.js';
import { workerDeath } from './worker-death.js';

export const SCENARIOS: Scenario[] = [workerDeath, parserFuzz, fuzzClient];
