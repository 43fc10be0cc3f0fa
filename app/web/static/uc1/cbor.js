// A strict CBOR decoder (RFC 8949) for UC1 (docs/uc1.md §1 steps 5, 6 and 8).
//
// decodeCbor() accepts exactly one well-formed item: no trailing bytes, valid UTF-8 in
// text strings (each chunk whole characters), nesting depth ≤ 16, no reserved additional
// information, no two-byte simple value below 32. Anything else throws a CborError. It also
// reports how the item was written: `canonical` is false unless it is in deterministic
// encoding (RFC 8949 §4.2.1: every head shortest, definite lengths, map keys in bytewise
// order of their encodings, floats in their shortest form), `tagged` whether a tag appears
// anywhere, `duplicate` whether a map repeats a key (only when `duplicates` is allowed).
//
// Integers are Numbers (BigInts beyond ±(2^53 − 1)), maps Maps; floats, tags and other
// simple values are Float, Tagged and Simple objects (the integer 1 is not the float 1.0).

export const MAX_DEPTH = 16;

export class CborError extends Error {}
export class Tagged { constructor(tag, value) { this.tag = tag; this.value = value; } }
export class Float { constructor(value) { this.value = value; } }
export class Simple { constructor(value) { this.value = value; } }

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MINIMUM = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  24, 0x100, 0x10000, 0x100000000];  // the least argument each additional information needs

function fail(message) { throw new CborError(message); }

function fitsHalf(v) {  // whether a float16 holds v exactly (±0 and ±∞ included)
  if (v === 0 || !Number.isFinite(v)) return !Number.isNaN(v);
  let q = Math.abs(v) * 2 ** 24;  // in units of the smallest subnormal
  if (Math.abs(v) > 65504 || !Number.isInteger(q)) return false;
  while (q % 2 === 0) q /= 2;
  return q < 2048;  // 11 significant bits
}

function half(bits) {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const magnitude = exponent === 0 ? fraction * 2 ** -24
    : exponent === 31 ? (fraction ? NaN : Infinity)
      : (1024 + fraction) * 2 ** (exponent - 25);
  return bits & 0x8000 ? -magnitude : magnitude;
}

function identity(v) {  // equal for equal CBOR values (duplicate map keys)
  switch (typeof v) {
    case "number": case "bigint": return `i${v}`;
    case "string": return JSON.stringify(v);
    case "boolean": return v ? "T" : "F";
    case "undefined": return "U";
    default:
  }
  if (v === null) return "N";
  if (v instanceof Uint8Array) return `b${Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (v instanceof Float) return `f${Object.is(v.value, -0) ? "-0" : v.value}`;
  if (v instanceof Simple) return `s${v.value}`;
  if (v instanceof Tagged) return `g${v.tag}(${identity(v.value)})`;
  if (Array.isArray(v)) return `[${v.map(identity).join(",")}]`;
  return `{${[...v].map(([k, x]) => `${identity(k)}:${identity(x)}`).sort().join(",")}}`;
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

class Decoder {
  constructor(data, options) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = 0;
    this.indefinite = Boolean(options.indefinite);
    this.duplicates = Boolean(options.duplicates);
    this.canonical = true;
    this.tagged = false;
    this.duplicate = false;
  }

  need(n) {
    if (this.pos + n > this.data.length) fail("truncated");
  }

  // The head at pos: [major type, additional information, argument (Number or BigInt)].
  head() {
    this.need(1);
    const initial = this.data[this.pos++];
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (info < 24) return [major, info, info];
    if (info === 31) {
      if (major === 0 || major === 1 || major === 6) fail("indefinite length not allowed here");
      if (major === 7) fail("break outside an indefinite-length item");
      if (!this.indefinite) fail("indefinite length");
      this.canonical = false;
      return [major, info, -1];
    }
    if (info > 27) fail("reserved additional information");
    const size = 1 << (info - 24);
    this.need(size);
    const at = this.pos;
    this.pos += size;
    if (major === 7) return [major, info, 0];  // simple value or float: read by the caller
    let arg;
    if (size === 1) arg = this.data[at];
    else if (size === 2) arg = this.view.getUint16(at);
    else if (size === 4) arg = this.view.getUint32(at);
    else {
      const big = this.view.getBigUint64(at);
      arg = big <= SAFE ? Number(big) : big;
    }
    if (arg < MINIMUM[info]) this.canonical = false;
    return [major, info, arg];
  }

  bytes(length) {
    if (typeof length !== "number") fail("truncated");  // a BigInt length never fits
    this.need(length);
    const out = this.data.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  string(major, arg) {
    if (arg !== -1) return major === 2 ? this.bytes(arg) : this.text(this.bytes(arg));
    const chunks = [];
    for (;;) {
      this.need(1);
      if (this.data[this.pos] === 0xff) { this.pos++; break; }
      const [chunkMajor, info, length] = this.head();
      if (chunkMajor !== major || info === 31) fail("bad chunk in an indefinite-length string");
      chunks.push(major === 2 ? this.bytes(length) : this.text(this.bytes(length)));
    }
    if (major === 3) return chunks.join("");
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const chunk of chunks) { out.set(chunk, offset); offset += chunk.length; }
    return out;
  }

  text(bytes) {
    try {
      return UTF8.decode(bytes);
    } catch {
      return fail("invalid UTF-8");
    }
  }

  // true when the next byte closes an indefinite-length container (and consumes it)
  ends(count, index) {
    if (count !== -1) return index >= count;
    this.need(1);
    if (this.data[this.pos] !== 0xff) return false;
    this.pos++;
    return true;
  }

  item(depth) {
    const [major, info, arg] = this.head();
    switch (major) {
      case 0: return arg;
      case 1: return typeof arg === "number" && arg < Number.MAX_SAFE_INTEGER ? -1 - arg
        : -1n - BigInt(arg);  // beyond −(2^53 − 1)
      case 2: case 3: return this.string(major, arg);
      case 7: return this.simple(info, arg);
      default:
    }
    if (depth > MAX_DEPTH) fail("nesting too deep");
    if (major === 6) {
      this.tagged = true;
      return new Tagged(arg, this.item(depth + 1));
    }
    if (typeof arg !== "number" || (arg !== -1 && arg > this.data.length - this.pos)) {
      fail("truncated");  // every entry takes at least a byte
    }
    if (major === 4) {
      const items = [];
      for (let i = 0; !this.ends(arg, i); i++) items.push(this.item(depth + 1));
      return items;
    }
    const map = new Map();
    const seen = new Set();
    let previous = null;
    for (let i = 0; !this.ends(arg, i); i++) {
      const start = this.pos;
      const key = this.item(depth + 1);
      const encoded = this.data.subarray(start, this.pos);
      if (previous !== null && compareBytes(previous, encoded) >= 0) this.canonical = false;
      previous = encoded;
      const id = identity(key);
      if (seen.has(id)) {
        if (!this.duplicates) fail("duplicate map key");
        this.duplicate = true;
      }
      seen.add(id);
      map.set(key, this.item(depth + 1));
    }
    return map;
  }

  simple(info, arg) {
    const at = this.pos;
    if (info < 20) return new Simple(info);
    if (info < 24) return [false, true, null, undefined][info - 20];
    if (info === 24) {
      const value = this.data[at - 1];
      if (value < 32) fail("two-byte simple value below 32");
      return new Simple(value);
    }
    let value;
    if (info === 25) value = half(this.view.getUint16(at - 2));
    else if (info === 26) value = this.view.getFloat32(at - 4);
    else value = this.view.getFloat64(at - 8);
    if (Number.isNaN(value)) {
      if (info !== 25 || this.view.getUint16(at - 2) !== 0x7e00) this.canonical = false;
    } else if ((info > 25 && fitsHalf(value)) || (info === 27 && Math.fround(value) === value)) {
      this.canonical = false;
    }
    return new Float(value);
  }
}

/**
 * Decode `data` (a Uint8Array) as exactly one well-formed CBOR item. Options: `indefinite`
 * (accept indefinite lengths; otherwise they throw), `duplicates` (report a repeated map
 * key in `duplicate`; otherwise it throws). Returns {value, canonical, tagged, duplicate}.
 */
export function decodeCbor(data, options = {}) {
  const decoder = new Decoder(data, options);
  const value = decoder.item(1);
  if (decoder.pos !== data.length) fail("trailing bytes");
  const { canonical, tagged, duplicate } = decoder;
  return { value, canonical, tagged, duplicate };
}
