/**
 * A small seeded PRNG for the sandboxes and the data generator. `Math.random()` is never used there:
 * a failing test or a demo run must be reproducible from its seed alone, byte for byte.
 *
 * The core is mulberry32 (32-bit state, period 2^32). It is fast, tiny and good enough for test data;
 * it is not meant for anything that needs cryptographic or statistical rigour.
 */

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both ends included. */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** True with the given probability (0 → never, 1 → always). */
  chance(probability: number): boolean;
  /** A shuffled copy (Fisher–Yates); the input is left untouched. */
  shuffle<T>(items: readonly T[]): T[];
  /** `k` distinct elements in random order (all of them when `k >= items.length`). */
  sample<T>(items: readonly T[], k: number): T[];
}

/** murmur3's 32-bit finalizer: spreads every input bit over the whole output. */
function fmix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit seed from any mix of strings and numbers (FNV-1a, then fmix32). Used to derive independent
 * streams from one user seed, e.g. `hashSeed(seed, 'run', runId)`.
 */
export function hashSeed(...parts: ReadonlyArray<string | number>): number {
  let h = 0x811c9dc5;
  const text = parts.map(String).join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * Combines a 32-bit seed with an integer (a row index, say) without building strings. The generator
 * calls this once per row, so it must be cheap; two fmix rounds keep neighbouring indexes unrelated.
 */
export function mixSeed(seed: number, index: number): number {
  // Split the index so that indexes above 2^32 still change the result.
  const low = index >>> 0;
  const high = Math.floor(index / 0x1_0000_0000) >>> 0;
  return fmix32(fmix32(seed ^ Math.imul(low, 0x9e3779b1)) ^ Math.imul(high + 1, 0x85ebca77));
}

/**
 * mulberry32 behind the `Random` interface. A class rather than closures: the generator makes one per
 * row, and prototype methods cost no allocation.
 */
class Mulberry32 implements Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
      throw new RangeError(`int(${min}, ${max}): need integers with min <= max`);
    }
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty array');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  shuffle<T>(items: readonly T[]): T[] {
    return this.sample(items, items.length);
  }

  sample<T>(items: readonly T[], k: number): T[] {
    // A partial Fisher–Yates: only the first k positions are settled, so sampling 3 of 20 is cheap.
    const copy = items.slice();
    const n = Math.min(Math.max(0, Math.floor(k)), copy.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.next() * (copy.length - i));
      const tmp = copy[i] as T;
      copy[i] = copy[j] as T;
      copy[j] = tmp;
    }
    return copy.slice(0, n);
  }
}

/** A PRNG from an integer seed (used as is) or any other value (hashed first). */
export function createRandom(seed: number | string): Random {
  return new Mulberry32(typeof seed === 'number' && Number.isInteger(seed) ? seed : hashSeed(seed));
}
