/**
 * The requests waiting on the shared inbox, by id: an open-addressing table (linear probing,
 * deletion by backward shift) over an array indexed by `id & mask`. Ids are handed out in
 * sequence, so the ids in flight at once land in distinct slots and a lookup is one array read.
 * A Map did the same with hashing, and its rehashes under constant insert/delete churn left
 * ~110 bytes per request to the collector (sampling heap profile, 100 in flight).
 *
 * Sequential ids also make the requests in flight one unbroken run of slots, so a probe may not
 * go on to the run's end: lookups and the backward shift look no farther past a slot than the
 * farthest any entry has been placed from its home ({@link reach}). Going to the run's end made
 * each answer or timeout cost a scan of every request in flight (80,000 at once took 7 s).
 */

/** Something the table holds: its key is `id`, a non-negative integer. */
export interface Keyed {
  readonly id: number;
}

/** The smallest table; it grows past half full. */
const MIN_SLOTS = 64;
/**
 * Adds between looks at whether the table may shrink: to a size fit for the most entries it held
 * since the last look. Shrinking as entries leave would resize on every wave of replies (100 in
 * flight drop to 0 and come back within a dispatch).
 */
const SHRINK_LOOK_EVERY = 65_536;
/**
 * Adds before a new table's first look: late enough for V8 to record the call (it keeps no
 * type feedback for a function's first few calls), early enough to come before add() is
 * optimized.
 */
const FIRST_LOOK_AFTER = 1024;

export class RequestTable<T extends Keyed> {
  private slots: (T | undefined)[] = new Array(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  /** Entries in the table. */
  size = 0;
  /**
   * The most entries since the last look at shrinking, and the adds since. The first look
   * comes after {@link FIRST_LOOK_AFTER} adds: V8 has then seen the call before it optimizes
   * add() and the request path it is inlined into, whose code a first look after 65,536 adds
   * threw away.
   */
  private peak = 0;
  private adds = SHRINK_LOOK_EVERY - FIRST_LOOK_AFTER;
  /**
   * The most slots any entry was placed past its home since the table was built (a bound: the
   * backward shift only brings entries closer). No entry lies farther from its home.
   */
  private reach = 0;

  get(id: number): T | undefined {
    const slots = this.slots;
    const mask = this.mask;
    const last = (id + this.reach) & mask;
    for (let i = id & mask; ; i = (i + 1) & mask) {
      const entry = slots[i];
      if (entry === undefined || entry.id === id) return entry;
      if (i === last) return undefined;
    }
  }

  /** Adds `entry`, whose id is not in the table. */
  add(entry: T): void {
    if ((this.size + 1) * 2 > this.slots.length) this.resize(this.slots.length * 2);
    this.place(entry);
    if (++this.size > this.peak) this.peak = this.size;
    if (++this.adds === SHRINK_LOOK_EVERY) this.lookAtShrinking();
  }

  /** Removes `entry` if it is in the table; returns whether it was. */
  delete(entry: T): boolean {
    const slots = this.slots;
    const mask = this.mask;
    const reach = this.reach;
    let hole = entry.id & mask;
    for (let probed = 0; slots[hole] !== entry; probed++) {
      if (slots[hole] === undefined || probed === reach) return false;
      hole = (hole + 1) & mask;
    }
    // Move later entries of the probe run back into the hole when their home slot allows it,
    // so that a lookup never stops at a gap before its entry. One more than `reach` slots past
    // the hole, every entry's home lies after the hole: none may move.
    for (let i = (hole + 1) & mask; ((i - hole) & mask) <= reach; i = (i + 1) & mask) {
      const next = slots[i];
      if (next === undefined) break;
      const home = next.id & mask;
      // `next` may move to `hole` unless its home lies cyclically in (hole, i].
      const stays = hole <= i ? hole < home && home <= i : hole < home || home <= i;
      if (stays) continue;
      slots[hole] = next;
      hole = i;
    }
    slots[hole] = undefined;
    this.size--;
    return true;
  }

  /** Every entry, in no particular order (a copy: the table may change while it is used). */
  entries(): T[] {
    return this.slots.filter((entry): entry is T => entry !== undefined);
  }

  clear(): void {
    this.slots = new Array(MIN_SLOTS).fill(undefined);
    this.mask = MIN_SLOTS - 1;
    this.size = 0;
    this.peak = 0;
    this.adds = 0;
    this.reach = 0;
  }

  private lookAtShrinking(): void {
    let length = this.slots.length;
    while (length > MIN_SLOTS && this.peak * 4 < length) length /= 2;
    if (length < this.slots.length) this.resize(length);
    this.peak = this.size;
    this.adds = 0;
  }

  private place(entry: T): void {
    const slots = this.slots;
    const mask = this.mask;
    const home = entry.id & mask;
    let i = home;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = entry;
    const distance = (i - home) & mask;
    if (distance > this.reach) this.reach = distance;
  }

  private resize(length: number): void {
    const old = this.slots;
    this.slots = new Array(length).fill(undefined);
    this.mask = length - 1;
    this.reach = 0;
    for (const entry of old) if (entry !== undefined) this.place(entry);
  }
}
