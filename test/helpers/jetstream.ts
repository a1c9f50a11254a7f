// Moved to bench/support (the bench ships and needs it too).
export * from '../../bench/support/jetstream.js';
