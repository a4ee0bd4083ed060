// Test data shared by Node and the page (page/helpers.js has the same generator).

/** Deterministic pseudo-random bytes (xorshift32); identical to pw.prng in the page. */
export function prng(len, seed) {
  const out = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
