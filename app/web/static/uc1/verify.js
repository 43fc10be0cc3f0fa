// In-browser UC1 verifier (docs/uc1.md): the card text of a union card's QR code or NFC tag,
// checked offline against a cached trust bundle, with the reference's results
// (cards.verify): {status, reason, warnings, claims, kid, keyId}.
//
//   import { loadTrustBundle, verifyCard } from "/site/uc1/verify.js";
//   const bundle = await loadTrustBundle(jws, rootJwk, { minVersion });
//   const result = await verifyCard(text, bundle);  // never rejects
import { base45Decode } from "./base45.js";
import { epochSeconds, DEFAULT_SKEW } from "./bundle.js";
import { parseMessage, verifyES256 } from "./cose.js";
import { readClaims } from "./claims.js";
import { UC1Error, refuse } from "./errors.js";
import { inflate } from "./inflate.js";
import { b64urlEncode } from "./jose.js";

export {
  loadTrustBundle, loadStatusListCredential, decodeStatusList, TrustBundle, StatusList,
} from "./bundle.js";
export { UC1Error } from "./errors.js";

export const PREFIX = "UC1:";
export const MAX_TEXT_CHARS = 4096;
export const MAX_DECOMPRESSED_BYTES = 16384;
const STATUS_OF = {
  "unknown-kid": "unknown-issuer", expired: "expired", "not-yet-valid": "not-yet-valid",
  revoked: "revoked", "key-compromise": "revoked", suspended: "suspended",
};
const SHOWS_CLAIMS = new Set(["valid", "expired", "not-yet-valid", "revoked", "suspended"]);

function tooLong(text) {
  if (text.length <= MAX_TEXT_CHARS) return false;
  let chars = 0;  // characters are code points: an astral one is two UTF-16 units
  for (const _ of text) if (++chars > MAX_TEXT_CHARS) return true;
  return false;
}

/** §1 steps 1–4: the COSE message bytes of card `text`. */
async function decodeText(text) {
  if (typeof text !== "string") refuse("bad-prefix");
  if (tooLong(text)) refuse("too-long");
  if (!text.startsWith(PREFIX)) refuse("bad-prefix");
  const body = base45Decode(text.slice(PREFIX.length)) ?? refuse("bad-base45");
  if (body[0] !== 0x78) return body;  // a COSE message never starts with 0x78
  const { bytes, error } = await inflate(body, "deflate", MAX_DECOMPRESSED_BYTES);
  if (error === "too-large") refuse("too-large-decompressed");
  return bytes ?? refuse("bad-zlib");
}

/** §1 step 7: the key whose signature verifies. */
async function findKey(parsed, bundle) {
  const hex = Array.from(parsed.kid, (b) => b.toString(16).padStart(2, "0")).join("");
  const candidates = bundle.keysFor(hex);
  if (!candidates.length) refuse("unknown-kid");
  if (parsed.signature.length !== 64) refuse("bad-signature-length");
  for (const key of candidates) {  // several keys may share a short kid: try each
    if (await verifyES256(key.cryptoKey, parsed.signature, parsed.toBeSigned)) return key;
  }
  return refuse("bad-signature");
}

/**
 * §1 step 10: both lists of the card's id are looked up first, so a list the trust source
 * lacks adds status-list-missing whatever the other says; then revocation, then suspension.
 */
function checkStatus(claims, lookup, warnings) {
  const found = [["revocation", "revoked"], ["suspension", "suspended"]].map(
    ([purpose, reason]) => [lookup(claims.status_list_id, purpose), reason]);
  if (found.some(([list]) => !list)) warnings.push("status-list-missing");
  for (const [list, reason] of found) {
    if (!list) continue;
    const flagged = list.flagged(claims.status_index);
    if (flagged === null) refuse("bad-status-index");
    if (flagged) refuse(reason);
  }
}

/**
 * Verify UC1 card `text` (exactly as read: never trimmed) against a TrustBundle. Options:
 * time (Date, ms since the epoch or ISO string; default the clock), statusLists (StatusLists,
 * e.g. from loadStatusListCredential, used instead of the bundle's of the same id and
 * purpose), skew (seconds, default 300). Resolves to {status, reason, warnings (sorted),
 * claims (or null), kid (base64url short kid, when readable), keyId}; never rejects.
 */
export async function verifyCard(text, bundle, options = {}) {
  const { time = Date.now(), statusLists = [], skew = DEFAULT_SKEW } = options;
  const fresher = new Map(statusLists.map((list) => [`${list.id}/${list.purpose}`, list]));
  const lookup = (id, purpose) => fresher.get(`${id}/${purpose}`) ?? bundle.statusList(id, purpose);
  const warnings = [];
  let kid = null, key = null, claims = null;
  let status = "valid", reason = "ok";
  try {
    const now = epochSeconds(time);
    warnings.push(...bundle.warnings(now));
    const parsed = parseMessage(await decodeText(text));
    kid = b64urlEncode(parsed.kid);
    key = await findKey(parsed, bundle);
    claims = readClaims(parsed.payload);
    if (claims.issuer !== key.issuer) refuse("issuer-mismatch");
    if (key.status === "revoked") refuse("key-compromise");
    checkStatus(claims, lookup, warnings);
    if (now < claims.issued_at - skew) refuse("not-yet-valid");
    if (now > claims.expires_at + skew) refuse("expired");
  } catch (error) {
    reason = error instanceof UC1Error ? error.reason : "internal-error";
    status = STATUS_OF[reason] ?? "invalid";
  }
  const shown = SHOWS_CLAIMS.has(status) && claims !== null;
  return {
    status, reason, warnings: warnings.sort(), claims: shown ? claims : null, kid,
    keyId: shown ? key.kid : null,
  };
}
