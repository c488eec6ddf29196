/**
 * mulberry32: a tiny seeded PRNG. Random fault runs are reproducible from the seed alone, which
 * `Math.random` cannot give.
 */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One draw in [0, 1) that depends only on the seed and a key (an orderid): a per-order choice
 * replays from the seed whatever order concurrent requests arrive in, which a shared PRNG cannot give.
 */
export function keyedDraw(seed: number, key: string): number {
  // FNV-1a over the key's UTF-16 units, mixed with the seed, then one mulberry32 step.
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return createPrng((hash ^ seed) >>> 0)();
}
