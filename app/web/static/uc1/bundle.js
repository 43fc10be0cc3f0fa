// The trust bundle (docs/uc1.md §5) and status lists (§6): what an offline desk caches.
// The lists travel inside the bundle (`statusLists`), so a cached bundle answers revocation
// offline; online each is also a signed vc+jwt (GET /api/v1/status-lists/<id>?purpose=...),
// which loadStatusListCredential() reads and verifyCard({statusLists}) can use instead.
import { refuse } from "./errors.js";
import { inflate } from "./inflate.js";
import {
  b64urlDecode, hasMembers, importP256, isObject, parseJson, parseStrictJson, verifyCompactJws,
} from "./jose.js";

export const BUNDLE_TYP = "unioncard-trust+jwt";
export const DEFAULT_MAX_AGE = 30 * 86400;
export const DEFAULT_SKEW = 300;
export const STALE_WARNING = "stale-trust-bundle";
const MAX_BUNDLE_CHARS = 8 * 1024 * 1024;
const MIN_ENTRIES = 131072;
const MAX_ENTRIES = 2 ** 24;
const PURPOSES = ["revocation", "suspension"];
const KEY_MEMBERS = ["kty", "crv", "x", "y", "kid", "use", "alg", "iss", "status"];
const KEY_STATUSES = ["active", "retired", "revoked"];
// What Python's str.strip() removes around a bundle file's text (not U+FEFF, unlike trim()).
const SPACE = "[\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const AROUND = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");

/** Seconds since the epoch of a Date, a time in milliseconds (number) or an ISO string. */
export function epochSeconds(time) {
  const ms = time instanceof Date ? time.getTime()
    : typeof time === "string" ? Date.parse(time) : time;
  if (!Number.isFinite(ms)) throw new TypeError(`not a time: ${time}`);
  return Math.floor(ms / 1000);
}

const isCount = (value) => typeof value === "number" && Number.isInteger(value) && value >= 0;

/** A bitstring status list; index 0 is the most significant bit of the first byte. */
export class StatusList {
  constructor(id, purpose, bits, issuedAt = null) {
    Object.assign(this, { id, purpose, bits, size: bits.length * 8, issuedAt });
  }

  /** The bit at `index` (true: set), or null outside the list. */
  flagged(index) {
    return index < this.size ? Boolean(this.bits[index >> 3] & (0x80 >> (index & 7))) : null;
  }
}

/** Read an `encodedList` (multibase "u" + base64url of GZIP). Throws UC1Error(reason). */
export async function decodeStatusList(id, purpose, encodedList, reason = "bad-bundle") {
  if (typeof encodedList !== "string" || !encodedList.startsWith("u")) refuse(reason);
  const compressed = b64urlDecode(encodedList.slice(1)) ?? refuse(reason);
  const { bytes } = await inflate(compressed, "gzip", MAX_ENTRIES / 8);  // bounded: 2 MiB
  if (!bytes) refuse(reason);
  if (!PURPOSES.includes(purpose) || !isCount(id) || id >= 2 ** 32
      || bytes.length * 8 < MIN_ENTRIES) {
    refuse(reason);
  }
  return new StatusList(id, purpose, bytes);
}

/** A verified trust bundle: keys by short kid, status lists by id and purpose. */
export class TrustBundle {
  constructor(version, issuedAt, keys, statusLists, maxAge) {
    Object.assign(this, { version, issuedAt, keys, statusLists, maxAge });
    this.byShortKid = new Map();
    for (const key of keys) {
      this.byShortKid.set(key.shortKid, [...(this.byShortKid.get(key.shortKid) ?? []), key]);
    }
    this.lists = new Map(statusLists.map((list) => [`${list.id}/${list.purpose}`, list]));
  }

  /** Every key whose short kid (16 hex digits) is `shortKid`. */
  keysFor(shortKid) { return this.byShortKid.get(shortKid) ?? []; }

  /** The list (id, purpose), or undefined when the bundle does not carry it. */
  statusList(id, purpose) { return this.lists.get(`${id}/${purpose}`); }

  /** ["stale-trust-bundle"] when older than maxAge at `now` (seconds), else []. */
  warnings(now) { return now - this.issuedAt > this.maxAge ? [STALE_WARNING] : []; }
}

async function pinnedRoot(rootJwk) {
  let jwk = rootJwk;
  if (typeof jwk === "string") {
    try { jwk = JSON.parse(jwk); } catch { jwk = null; }
  }
  const root = await importP256(jwk);
  return root ?? refuse("bad-root-key");
}

async function bundleKey(jwk) {
  if (!isObject(jwk) || !hasMembers(jwk, KEY_MEMBERS)) refuse("bad-bundle");
  const imported = await importP256(jwk) ?? refuse("bad-bundle");
  if (typeof jwk.iss !== "string" || !jwk.iss || !KEY_STATUSES.includes(jwk.status)) {
    refuse("bad-bundle");
  }
  return { ...imported, issuer: jwk.iss, status: jwk.status };
}

async function bundleList(entry) {
  if (!isObject(entry) || !hasMembers(entry, ["id", "purpose", "size", "encodedList"])) {
    refuse("bad-bundle");
  }
  const list = await decodeStatusList(entry.id, entry.purpose, entry.encodedList);
  if (list.size !== entry.size) refuse("bad-bundle");
  return list;
}

/**
 * Verify a trust bundle (compact JWS) with the pinned root public JWK (object or JSON text)
 * and read it. Options: now (Date, ms or ISO string; default the clock), minVersion (the
 * highest version accepted before: rollback), maxAge (seconds, default 30 days), skew.
 * Resolves to a TrustBundle; rejects with a UC1Error whose reason is bad-root-key,
 * bad-bundle-signature, bad-bundle, bundle-from-future or bundle-rollback.
 */
export async function loadTrustBundle(jws, rootJwk, options = {}) {
  const { now = Date.now(), minVersion = null, maxAge = DEFAULT_MAX_AGE,
    skew = DEFAULT_SKEW } = options;
  const root = await pinnedRoot(rootJwk);
  if (typeof jws !== "string" || jws.length > MAX_BUNDLE_CHARS) refuse("bad-bundle");
  const { payload } = await verifyCompactJws(jws.replace(AROUND, ""), root.cryptoKey,
    BUNDLE_TYP, ["bad-bundle", "bad-bundle-signature"]);
  return readBundle(payload, { now, minVersion, maxAge, skew });
}

async function readBundle(payloadBytes, { now, minVersion, maxAge, skew }) {
  const payload = parseStrictJson(payloadBytes);
  if (!isObject(payload) || !hasMembers(payload, ["format", "version", "iat", "keys",
    "statusLists"])) {
    refuse("bad-bundle");
  }
  const { format, version, iat, keys, statusLists } = payload;
  if (format !== 1) refuse("bad-bundle");
  if (!isCount(version) || !isCount(iat)) refuse("bad-bundle");
  if (!Array.isArray(keys) || !Array.isArray(statusLists)) refuse("bad-bundle");
  const entries = await Promise.all(keys.map(bundleKey));
  const lists = await Promise.all(statusLists.map((entry) => bundleList(entry)));
  if (new Set(entries.map((k) => k.kid)).size !== entries.length) refuse("bad-bundle");
  if (new Set(lists.map((l) => `${l.id}/${l.purpose}`)).size !== lists.length) {
    refuse("bad-bundle");
  }
  if (iat > epochSeconds(now) + skew) refuse("bundle-from-future");
  if (minVersion !== null && minVersion !== undefined && version < minVersion) {
    refuse("bundle-rollback");
  }
  return new TrustBundle(version, iat, entries, lists, maxAge);
}

/**
 * Verify a status list credential (W3C BitstringStatusListCredential secured as a vc+jwt,
 * §6) with the pinned root public JWK, at `now`. Resolves to a StatusList (with issuedAt);
 * rejects with a UC1Error: bad-root-key, bad-status-list-signature, bad-status-list, or
 * status-list-expired once its `exp` has passed (beyond `skew`).
 */
export async function loadStatusListCredential(jwt, rootJwk, options = {}) {
  const { now = Date.now(), skew = DEFAULT_SKEW } = options;
  const root = await pinnedRoot(rootJwk);
  if (typeof jwt !== "string") refuse("bad-status-list");
  const { payload } = await verifyCompactJws(jwt.replace(AROUND, ""), root.cryptoKey, "vc+jwt",
    ["bad-status-list", "bad-status-list-signature"]);
  const credential = parseJson(payload);
  const subject = isObject(credential) ? credential.credentialSubject : null;
  const where = /\/status-lists\/(\d+)\?purpose=(revocation|suspension)$/.exec(
    isObject(credential) ? credential.id : "");
  if (!Array.isArray(credential?.type) || !credential.type.includes("BitstringStatusListCredential")
      || !isObject(subject) || subject.type !== "BitstringStatusList" || !where
      || subject.statusPurpose !== where[2] || !isCount(credential.iat)
      || !isCount(credential.exp)) {
    refuse("bad-status-list");
  }
  if (epochSeconds(now) > credential.exp + skew) refuse("status-list-expired");
  const list = await decodeStatusList(Number(where[1]), where[2], subject.encodedList,
    "bad-status-list");
  list.issuedAt = credential.iat;
  return list;
}
