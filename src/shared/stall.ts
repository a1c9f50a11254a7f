/**
 * A consumer that takes no delivery for this long while some wait for it makes no progress
 * (a blocked thread, an iterator nobody reads): only then does a subscription drop past its
 * capacity (DESIGN.md principle 3). The worker applies it to the caller's thread as a whole
 * (flow-control.ts), the dispatcher to each iterator (subscriber.ts). Longer than a garbage
 * collection or a burst of application work, so a consumer that is only slow never drops;
 * far shorter than the server's write deadline (10 s by default), past which it would cut a
 * client that does not read.
 */
export const STALL_MS = 500;
