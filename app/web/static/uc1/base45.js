// Base45 (RFC 9285) decoding, strict, as docs/uc1.md §1 step 3 demands: only the 45
// characters of the alphabet, no length of the form 3k+1, chunks within 16 and 8 bits.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;

/** The bytes of base45 `text`, or null when it is not valid base45. */
export function base45Decode(text) {
  const n = text.length;
  if (n % 3 === 1) return null;
  const digits = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i);
    const d = code < 128 ? DIGIT[code] : -1;
    if (d < 0) return null;
    digits[i] = d;
  }
  const out = new Uint8Array(Math.floor(n / 3) * 2 + (n % 3 ? 1 : 0));
  let o = 0;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = digits[i] + 45 * digits[i + 1] + 2025 * digits[i + 2];
    if (v > 0xffff) return null;
    out[o++] = v >> 8;
    out[o++] = v & 0xff;
  }
  if (i < n) {
    const v = digits[i] + 45 * digits[i + 1];
    if (v > 0xff) return null;
    out[o] = v;
  }
  return out;
}
