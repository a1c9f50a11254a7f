import type { WordBytes } from '../shared/ring/ring-copy.js';

/**
 * Where Inbound writes a delivery frame: the delivery ring's bytes or a backlog slab's, as one
 * class. MsgFrameWriter and the copies it inlines then see one hidden class for their
 * destination; with the ring itself (a RingProducer) and slabs passed in turn, the first frame
 * into the backlog deoptimized all of them ("wrong map") and TurboFan compiled them again.
 * A class of its own, not a literal: literals starting with `bytes` share hidden-class
 * transitions with other such literals (see ring-copy.ts's SourceBytes).
 */
export class FrameBytes implements WordBytes {
  constructor(
    readonly bytes: Uint8Array,
    /** `bytes` as whole words; `bytes.byteOffset` is a multiple of 4. */
    readonly words: Int32Array,
  ) {}
}
