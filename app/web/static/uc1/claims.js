// The UC1 claims (docs/uc1.md §1 step 8, §3): one well-formed CBOR item (bad-cbor), a valid
// claims map (bad-claims, bad-version), in deterministic encoding (non-canonical).
import { decodeCbor } from "./cbor.js";
import { refuse } from "./errors.js";
import { isPrintable } from "./unicode14.js";

const ISS = 1, EXP = 4, IAT = 6, VERSION = -1, SERIAL = -2, MEMBER = -3, NAME = -4;
const BIRTH = -5, UNION = -6, PROVINCE = -7, LIST_ID = -8, LIST_INDEX = -9, EMERGENCY = -10;
const REQUIRED = [ISS, EXP, IAT, VERSION, SERIAL, MEMBER, NAME, BIRTH, UNION, PROVINCE,
  LIST_ID, LIST_INDEX];
const KNOWN = new Set([...REQUIRED, EMERGENCY]);

const ISSUER = /^[A-Z]{2}(-[A-Z0-9]{1,12}){1,3}$/;
const CODE = /^[0-9A-Z][0-9A-Z./-]{0,23}$/;
const PROVINCE_CODE = /^[0-9]{2}$/;
const ICD10 = /^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/;
const BLOOD_GROUPS = new Set(["O+", "O-", "A+", "A-", "B+", "B-", "AB+", "AB-"]);
const MIN_BIRTH_DAY = -25567;  // 1900-01-01
const MAX_BIRTH_DAY = 2932896;  // 9999-12-31: claims report a four-digit-year ISO date (§3)
const VIETNAM_OFFSET = 7 * 3600;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function bad() { refuse("bad-claims"); }

function uint(value, limit) {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < limit;
}

function isText(value, maxChars) {
  if (typeof value !== "string" || !value) return false;
  let chars = 0;  // code points, as the spec counts characters
  for (const char of value) if (++chars > maxChars || !isPrintable(char.codePointAt(0))) return false;
  return value.normalize("NFC") === value && !value.startsWith(" ") && !value.endsWith(" ");
}

function distinct(items) { return new Set(items).size === items.length; }

function base32(bytes) {
  let bits = 0, value = 0, out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) { out += BASE32[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  return out;  // 10 bytes: exactly 16 characters, no padding
}

function isoDate(day) {
  return new Date(day * 86400000).toISOString().slice(0, 10);
}

function emergencyCore(value) {
  if (value === null) bad();
  if (!Array.isArray(value) || value.length !== 3) bad();
  const [blood, allergies, conditions] = value;
  if (blood !== null && !(typeof blood === "string" && BLOOD_GROUPS.has(blood))) {
    bad();
  }
  if (!Array.isArray(allergies) || !Array.isArray(conditions)
      || allergies.length > 3 || conditions.length > 3) {
    bad();
  }
  if (!allergies.every((a) => isText(a, 32))) bad();
  if (!conditions.every((c) => typeof c === "string" && ICD10.test(c))) bad();
  if (!distinct(allergies) || !distinct(conditions)) bad();
  if (blood === null && !allergies.length && !conditions.length) bad();
  return { blood_group: blood, allergies: [...allergies], conditions: [...conditions] };
}

/**
 * Read the COSE payload (Uint8Array) as UC1 claims, named as the reference reports them
 * (docs/vectors/README.md). Throws a UC1Error: bad-cbor, bad-claims, bad-version or
 * non-canonical, checked in that order.
 */
export function readClaims(payload) {
  let decoded;
  try {
    decoded = decodeCbor(payload, { indefinite: true, duplicates: true });
  } catch {
    refuse("bad-cbor");
  }
  const claims = decoded.value;
  if (decoded.duplicate) bad();
  if (!(claims instanceof Map)) bad();
  // §1 step 8.2: the version before the other keys (a card of another version may carry
  // claims this one does not know); any value but the untagged integer 1 is bad-version.
  if (claims.has(VERSION) && claims.get(VERSION) !== 1) refuse("bad-version");
  for (const key of claims.keys()) if (!KNOWN.has(key)) bad();
  for (const key of REQUIRED) if (!claims.has(key)) bad();
  if (decoded.tagged) bad();

  const get = (key) => claims.get(key);
  const [iat, exp, birth, serial] = [get(IAT), get(EXP), get(BIRTH), get(SERIAL)];
  if (typeof get(ISS) !== "string" || !ISSUER.test(get(ISS))) bad();
  if (!uint(iat, 2 ** 53) || !uint(exp, 2 ** 53) || exp <= iat) bad();
  if (!(serial instanceof Uint8Array) || serial.length !== 10) bad();
  for (const key of [MEMBER, UNION]) {
    if (typeof get(key) !== "string" || !CODE.test(get(key))) bad();
  }
  if (!isText(get(NAME), 80)) bad();
  if (typeof birth !== "number" || !Number.isInteger(birth) || birth < MIN_BIRTH_DAY
      || birth > MAX_BIRTH_DAY || birth > Math.floor((iat + VIETNAM_OFFSET) / 86400)) {
    bad();
  }
  if (typeof get(PROVINCE) !== "string" || !PROVINCE_CODE.test(get(PROVINCE))) bad();
  if (!uint(get(LIST_ID), 2 ** 32) || !uint(get(LIST_INDEX), 2 ** 32)) bad();
  const emergency = claims.has(EMERGENCY) ? emergencyCore(get(EMERGENCY)) : null;

  if (!decoded.canonical) refuse("non-canonical");
  return {
    version: 1,
    issuer: get(ISS),
    serial: base32(serial),
    member_number: get(MEMBER),
    name: get(NAME),
    birth_date: isoDate(birth),
    union_code: get(UNION),
    province_code: get(PROVINCE),
    issued_at: iat,
    expires_at: exp,
    status_list_id: get(LIST_ID),
    status_index: get(LIST_INDEX),
    emergency,
  };
}
