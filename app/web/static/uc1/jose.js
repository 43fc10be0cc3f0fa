// JOSE pieces the trust bundle (docs/uc1.md §4–§6) needs: strict base64url, P-256 JWKs and
// their RFC 7638 thumbprints, and compact JWS signed with ES256.
import { refuse } from "./errors.js";

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DIGIT = new Map([...B64_DIGITS].map((c, i) => [c, i]));
const UTF8 = new TextDecoder("utf-8", { fatal: true });  // a leading BOM is dropped
const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" };

/** The bytes of unpadded base64url `text`, or null unless it is its canonical encoding. */
export function b64urlDecode(text) {
  if (typeof text !== "string" || !B64URL.test(text) || text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor(text.length * 3 / 4));
  let bits = 0, value = 0, o = 0;
  for (const c of text) {
    value = ((value << 6) | DIGIT.get(c)) & 0xffffff;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[o++] = (value >> bits) & 0xff; }
  }
  return value & ((1 << bits) - 1) ? null : out;  // leftover bits must be zero
}

/** Unpadded base64url text of `bytes`. */
export function b64urlEncode(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = [18, 12, 6, 0].map((shift) => B64_DIGITS[(n >> shift) & 63]);
    out += chars.slice(0, Math.min(4, bytes.length - i + 1)).join("");
  }
  return out;
}

export function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Whether `object` has exactly the members `names`. */
export function hasMembers(object, names) {
  const keys = Object.keys(object);
  return keys.length === names.length && names.every((name) => Object.hasOwn(object, name));
}

/** JSON from UTF-8 bytes, or undefined. */
export function parseJson(bytes) {
  try {
    return JSON.parse(UTF8.decode(bytes));
  } catch {
    return undefined;
  }
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });  // BOM kept
const JSON_STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}))*"/y;
const JSON_NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const JSON_SPACE = /[ \t\n\r]*/y;
const MAX_JSON_DEPTH = 64;

/**
 * A trust bundle payload's JSON, strictly (docs/uc1.md §5): UTF-8 without a byte-order
 * mark, no member name twice in an object, integers only (no fraction, no exponent),
 * none beyond 2^53 − 1. Returns the value, or undefined for anything else.
 */
export function parseStrictJson(bytes) {
  let text;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
  let pos = 0;
  const fail = () => { throw new SyntaxError(`strict JSON: at ${pos}`); };
  const space = () => { JSON_SPACE.lastIndex = pos; JSON_SPACE.exec(text); pos = JSON_SPACE.lastIndex; };
  const token = (pattern) => {
    pattern.lastIndex = pos;
    const match = pattern.exec(text) ?? fail();
    pos = pattern.lastIndex;
    return match;
  };
  const literal = (word, value) => {
    if (!text.startsWith(word, pos)) fail();
    pos += word.length;
    return value;
  };
  const value = (depth) => {
    if (depth > MAX_JSON_DEPTH) fail();
    space();
    const c = text[pos];
    let out;
    if (c === "{") {
      out = {};
      pos++;
      space();
      if (text[pos] === "}") pos++;
      else {
        for (;;) {
          space();
          if (text[pos] !== "\"") fail();
          const name = JSON.parse(token(JSON_STRING)[0]);
          if (Object.hasOwn(out, name)) fail();  // a member name twice
          space();
          if (text[pos++] !== ":") fail();
          Object.defineProperty(out, name, {
            value: value(depth + 1), enumerable: true, writable: true, configurable: true });
          space();
          const next = text[pos++];
          if (next === "}") break;
          if (next !== ",") fail();
        }
      }
    } else if (c === "[") {
      out = [];
      pos++;
      space();
      if (text[pos] === "]") pos++;
      else {
        for (;;) {
          out.push(value(depth + 1));
          space();
          const next = text[pos++];
          if (next === "]") break;
          if (next !== ",") fail();
        }
      }
    } else if (c === "\"") {
      out = JSON.parse(token(JSON_STRING)[0]);
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const match = token(JSON_NUMBER);
      if (match[1] || match[2]) fail();  // a fraction or an exponent: not an integer
      out = Number(match[0]);
      if (!Number.isSafeInteger(out)) fail();
    } else if (c === "t") out = literal("true", true);
    else if (c === "f") out = literal("false", false);
    else if (c === "n") out = literal("null", null);
    else fail();
    return out;
  };
  try {
    const result = value(0);
    space();
    return pos === text.length ? result : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a JWS `typ` names application/`mediaType` (RFC 7515 §4.1.9: media types compare
 * case-insensitively, and a value without "/" stands for "application/" + the value).
 */
export function isTyp(typ, mediaType) {
  if (typeof typ !== "string" || !/^[\x00-\x7f]*$/.test(typ)) return false;
  const lower = typ.toLowerCase();
  return (lower.includes("/") ? lower : `application/${lower}`) === `application/${mediaType}`;
}

/**
 * Import a P-256 public JWK: kty EC, crv P-256, no private part, alg ES256 and use sig
 * when present, 32-byte canonical base64url coordinates on the curve, kid (when present)
 * its thumbprint. Resolves to {cryptoKey, kid (the RFC 7638 thumbprint), shortKid (hex)}, or
 * to null for anything else.
 */
export async function importP256(jwk) {
  if (!isObject(jwk) || jwk.kty !== "EC" || jwk.crv !== "P-256" || "d" in jwk) return null;
  if (("alg" in jwk && jwk.alg !== "ES256") || ("use" in jwk && jwk.use !== "sig")) return null;
  const [x, y] = [b64urlDecode(jwk.x), b64urlDecode(jwk.y)];
  if (!x || !y || x.length !== 32 || y.length !== 32) return null;
  let cryptoKey;
  try {
    cryptoKey = await crypto.subtle.importKey(
      "jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, ECDSA_P256, false, ["verify"]);
  } catch {
    return null;  // not a point of the curve
  }
  const members = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(members)));
  const kid = b64urlEncode(digest);
  if ("kid" in jwk && jwk.kid !== kid) return null;
  const shortKid = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0"));
  return { cryptoKey, kid, shortKid: shortKid.join("") };
}

// A compact JWS segment: base64url, '=' padding tolerated (as the reference's PyJWT does).
function segment(text, reason) {
  const padded = /^(.*?)(=*)$/s.exec(text);
  if (padded[2].length > 2 || (padded[2] && text.length % 4)) refuse(reason);
  return b64urlDecode(padded[1]) ?? refuse(reason);
}

/**
 * Parse and verify a compact JWS (RFC 7515) signed ES256 by `rootKey` (a CryptoKey), whose
 * `typ` must be `typ`. Throws a UC1Error with reasons[0] for a malformed token or `typ`
 * (e.g. bad-bundle), reasons[1] for another alg or a wrong signature; returns the header
 * and the payload bytes.
 */
export async function verifyCompactJws(text, rootKey, typ, [malformed, badSignature]) {
  const last = text.lastIndexOf(".");
  const first = text.indexOf(".");
  if (first < 0 || first === last) refuse(malformed);
  const header = parseStrictJson(segment(text.slice(0, first), malformed));  // no name twice
  if (!isObject(header)) refuse(malformed);
  const detached = header.b64 === false;
  if (detached && first + 1 !== last) refuse(malformed);
  const payload = detached ? new Uint8Array(0) : segment(text.slice(first + 1, last), malformed);
  const signature = segment(text.slice(last + 1), malformed);
  if ("kid" in header && typeof header.kid !== "string") refuse(malformed);
  if ("crit" in header) {
    const crit = header.crit;
    if (!Array.isArray(crit) || !crit.length
        || !crit.every((name) => name === "b64" && name in header)) {
      refuse(malformed);
    }
  }
  if (header.alg !== "ES256") refuse(badSignature);
  if (!isTyp(header.typ, typ)) refuse(malformed);
  if (detached) refuse(badSignature);
  const signed = new TextEncoder().encode(text.slice(0, last));
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, rootKey,
    signature, signed);
  if (!ok) refuse(badSignature);
  return { header, payload };
}
