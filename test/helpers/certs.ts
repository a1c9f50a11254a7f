// The openssl certificate maker lives in the shipped bench (bench/support); tests keep importing
// it from here.
export * from '../../bench/support/certs.js';
