/**
 * Occurrences per person key, in compact memory: an open-addressing hash table (linear probing) over
 * one typed array, growing by doubling. A slot is 3 words side by side: a 64-bit fingerprint of the
 * key (its first and last 32 bits, so test keys such as `000…001`, `000…002` differ too) and the count.
 * 12 bytes per slot at most 70% full, against roughly a kilobyte for a person object in a Map (and
 * ~100 bytes for a Map of key strings): a 300,000-row export costs about 6 MB here.
 *
 * Keys are SHA-256 hashes, so two different people share a fingerprint with a probability of about
 * 1 in 400 million per 300,000-row file. If they do, their counts add up and dedupe-people.ts holds
 * both until the end of the file, then yields them separately: slower, never wrong.
 */
const SLOT = 3;
const COUNT = 2;
const MAX_LOAD = 0.7;

/** Hex digit values by character code ('0'–'9', 'a'–'f', 'A'–'F'); 0 for anything else. */
const HEX_VALUE = new Uint8Array(128);
for (let d = 0; d < 16; d++) {
  HEX_VALUE[d.toString(16).charCodeAt(0)] = d;
  HEX_VALUE[d.toString(16).toUpperCase().charCodeAt(0)] = d;
}

/** The 32-bit value of 8 hex characters at `at` (no substring, no parseInt: this runs on every row). */
function hexWord(key: string, at: number): number {
  let word = 0;
  for (let i = at; i < at + 8; i++) word = (word << 4) | (HEX_VALUE[key.charCodeAt(i) & 127] as number);
  return word >>> 0;
}

export class KeyCounter {
  private capacity: number;
  private table: Uint32Array;
  private distinct = 0;

  constructor(initialCapacity = 1 << 12) {
    this.capacity = 1 << Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.table = new Uint32Array(this.capacity * SLOT);
  }

  /** Number of distinct fingerprints counted (distinct keys, barring a fingerprint collision). */
  get size(): number {
    return this.distinct;
  }

  /** Counts one occurrence of `key` (64 hex characters); returns its count so far. */
  add(key: string): number {
    const hi = hexWord(key, 0);
    const lo = hexWord(key, key.length - 8);
    let at = this.find(hi, lo);
    const count = this.table[at + COUNT] as number;
    if (count > 0) {
      this.table[at + COUNT] = count + 1;
      return count + 1;
    }
    if ((this.distinct + 1) / this.capacity > MAX_LOAD) {
      this.grow();
      at = this.find(hi, lo);
    }
    this.put(at, hi, lo, 1);
    this.distinct += 1;
    return 1;
  }

  /** How many times `key` was counted (0 if never). */
  get(key: string): number {
    return this.table[this.find(hexWord(key, 0), hexWord(key, key.length - 8)) + COUNT] as number;
  }

  /** Offset of the slot holding the fingerprint, or of the empty slot where it would go. */
  private find(hi: number, lo: number): number {
    const mask = this.capacity - 1;
    const table = this.table;
    // Keys are hashes already, but mix anyway so that test data like 000…001 spreads too.
    let slot = Math.imul(hi ^ Math.imul(lo, 0x85ebca6b), 0x9e3779b1) >>> 0;
    slot = (slot ^ (slot >>> 15)) & mask;
    for (;;) {
      const at = slot * SLOT;
      if (table[at + COUNT] === 0) return at;
      if (table[at] === hi && table[at + 1] === lo) return at;
      slot = (slot + 1) & mask;
    }
  }

  private put(at: number, hi: number, lo: number, count: number): void {
    this.table[at] = hi;
    this.table[at + 1] = lo;
    this.table[at + COUNT] = count;
  }

  private grow(): void {
    const old = this.table;
    this.capacity *= 2;
    this.table = new Uint32Array(this.capacity * SLOT);
    for (let at = 0; at < old.length; at += SLOT) {
      const count = old[at + COUNT] as number;
      if (count === 0) continue;
      const hi = old[at] as number;
      const lo = old[at + 1] as number;
      this.put(this.find(hi, lo), hi, lo, count);
    }
  }
}
