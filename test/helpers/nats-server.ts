// The nats-server launcher lives in the shipped bench (bench/support) so the published bench can
// start servers; tests keep importing it from here.
export * from '../../bench/support/nats-server.js';
