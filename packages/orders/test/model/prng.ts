/**
 * mulberry32: a small seeded generator for the choices the settle phase makes (which way a call
 * still in the wire goes, what a provider still processing decides). Seeded from the program, so
 * a run replays exactly.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One of `options`, weighted. */
export function pick<T>(random: () => number, options: readonly (readonly [T, number])[]): T {
  const total = options.reduce((sum, [, weight]) => sum + weight, 0);
  let r = random() * total;
  for (const [value, weight] of options) {
    r -= weight;
    if (r < 0) return value;
  }
  const last = options.at(-1);
  if (!last) throw new Error('pick from nothing');
  return last[0];
}
