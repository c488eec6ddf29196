/**
 * The order ids seen so far in one file, with the row each first appeared on, to refuse a later
 * row that repeats one. Strings in a Set would cost ~70 bytes per id (70 MB for a million rows);
 * this keeps a 64-bit hash and a row number per id in typed arrays (12 bytes per slot, at most
 * half full), so a million ids take 25 MB and the size is bounded by the upload's row limit. The
 * slots are split into 16 tables by hash, each doubling on its own: a table that grows holds its
 * old and new arrays together for a moment, 1/16 of the whole rather than 1.5 times it (a 12 MB
 * spike in the worker's RSS at half a million rows otherwise).
 * Two different ids share a 64-bit hash with odds of about 1 in 30 million for a million-row file; the
 * cost of that is one valid row refused as a duplicate, never an order created twice.
 */
export class OrderIdSet {
  readonly #tables: IdTable[];
  #size = 0;

  constructor(initialSlots = 1 << 12) {
    const slots = Math.max(16, Math.ceil(initialSlots / TABLES));
    this.#tables = Array.from({ length: TABLES }, () => new IdTable(slots));
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Records `id` as first seen on `row` (1-based) and answers 0; when `id` was seen before,
   * answers the row it was first seen on and records nothing.
   */
  addOrGet(id: string, row: number): number {
    const hi = fnv1a(id, 0x811c9dc5);
    const lo = murmurish(id, 0x9747b28c);
    const existing = (this.#tables[hi >>> 28] as IdTable).addOrGet(hi, lo, row);
    if (existing === 0) this.#size += 1;
    return existing;
  }
}

/** Tables the slots are split into, by the top 4 bits of the hash. */
const TABLES = 16;

/** One open-addressing table (linear probing) of 64-bit hashes and their first rows. */
class IdTable {
  #hi: Uint32Array;
  #lo: Uint32Array;
  /** 1-based row numbers; 0 marks an empty slot. */
  #rows: Uint32Array;
  #mask: number;
  #size = 0;

  constructor(initialSlots: number) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(16, initialSlots)));
    this.#hi = new Uint32Array(slots);
    this.#lo = new Uint32Array(slots);
    this.#rows = new Uint32Array(slots);
    this.#mask = slots - 1;
  }

  addOrGet(hi: number, lo: number, row: number): number {
    const found = this.#find(hi, lo);
    const existing = this.#rows[found] as number;
    if (existing !== 0) return existing;
    this.#hi[found] = hi;
    this.#lo[found] = lo;
    this.#rows[found] = row;
    this.#size += 1;
    if (this.#size * 2 > this.#mask) this.#grow();
    return 0;
  }

  #find(hi: number, lo: number): number {
    // The low hash bits pick the slot: the top ones picked the table.
    let slot = (lo ^ hi) & this.#mask;
    for (;;) {
      if (this.#rows[slot] === 0 || (this.#hi[slot] === hi && this.#lo[slot] === lo)) return slot;
      slot = (slot + 1) & this.#mask;
    }
  }

  #grow(): void {
    const hi = this.#hi;
    const lo = this.#lo;
    const rows = this.#rows;
    const slots = rows.length * 2;
    this.#hi = new Uint32Array(slots);
    this.#lo = new Uint32Array(slots);
    this.#rows = new Uint32Array(slots);
    this.#mask = slots - 1;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as number;
      if (row === 0) continue;
      const slot = this.#find(hi[i] as number, lo[i] as number);
      this.#hi[slot] = hi[i] as number;
      this.#lo[slot] = lo[i] as number;
      this.#rows[slot] = row;
    }
  }
}

function fnv1a(text: string, seed: number): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A second, independent 32-bit hash (murmur3-style mixing per character and at the end). */
function murmurish(text: string, seed: number): number {
  let hash = seed ^ text.length;
  for (let i = 0; i < text.length; i++) {
    let k = Math.imul(text.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    hash ^= Math.imul(k, 0x1b873593);
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
