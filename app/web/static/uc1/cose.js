// The UC1 message (docs/uc1.md §1 steps 5–7, §2): the one canonical COSE_Sign1 form
//   d2 84 4d a2 01 26 04 48 <kid: 8 bytes> a0 <payload bstr> <signature bstr>
// and its ES256 signature over ["Signature1", protected, h'', payload].
import { decodeCbor, Tagged } from "./cbor.js";
import { refuse } from "./errors.js";

const ES256 = -7;
const TAG_COSE_SIGN1 = 18;
const PROTECTED_HEAD = [0xa2, 0x01, 0x26, 0x04, 0x48];
const SIGNATURE1 = new TextEncoder().encode("Signature1");

function bstrHead(length) {
  if (length < 24) return [0x40 + length];
  if (length < 0x100) return [0x58, length];
  return [0x59, length >> 8, length & 0xff];  // a card's payload is far below 64 KiB
}

/**
 * Steps 5 and 6: parse `message` (Uint8Array). Returns {kid, payload, signature,
 * toBeSigned}, or throws a UC1Error: bad-cose, bad-header, unsupported-alg, bad-kid.
 */
export function parseMessage(message) {
  let decoded;
  try {
    decoded = decodeCbor(message);  // definite lengths only, no duplicate key, depth ≤ 16
  } catch {
    refuse("bad-cose");
  }
  const item = decoded.value;
  if (!decoded.canonical) refuse("bad-cose");
  if (!(item instanceof Tagged) || item.tag !== TAG_COSE_SIGN1) {
    refuse("bad-cose");
  }
  const body = item.value;
  if (!Array.isArray(body) || body.length !== 4) refuse("bad-cose");
  const [protectedBytes, unprotected, payload, signature] = body;
  if (![protectedBytes, payload, signature].every((part) => part instanceof Uint8Array)) {
    refuse("bad-cose");
  }
  if (!(unprotected instanceof Map)) refuse("bad-cose");

  let header = new Map();  // an empty byte string counts as the empty map
  if (protectedBytes.length) {
    try {
      header = decodeCbor(protectedBytes).value;
    } catch {
      refuse("bad-header");
    }
  }
  if (!(header instanceof Map)) refuse("bad-header");
  if (header.get(1) !== ES256) refuse("unsupported-alg");
  if (header.size !== 2 || !header.has(4) || unprotected.size !== 0) {
    refuse("bad-header");
  }
  const kid = header.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== 8) refuse("bad-kid");
  if (protectedBytes.length !== 13 || PROTECTED_HEAD.some((b, i) => protectedBytes[i] !== b)) {
    refuse("bad-header");
  }

  const parts = [[0x84, 0x60 + SIGNATURE1.length], SIGNATURE1, [0x4d], protectedBytes, [0x40],
    bstrHead(payload.length), payload];
  const toBeSigned = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) { toBeSigned.set(part, offset); offset += part.length; }
  return { kid, payload, signature, toBeSigned };
}

/** Step 7: whether the 64-byte r ‖ s `signature` verifies with one ES256 CryptoKey. */
export function verifyES256(cryptoKey, signature, data) {
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, cryptoKey, signature, data);
}
