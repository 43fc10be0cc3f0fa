"""NFC: the card's NDEF message (UC1 MIME record + verify URI record) and the NTAG it needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MIME_TYPE",
    "NTAG213",
    "NTAG215",
    "NTAG216",
    "TAGS",
    "CardNdef",
    "NdefError",
    "NdefRecord",
    "NfcTag",
    "TagCapacityError",
    "encode_ndef",
    "make_ndef",
    "parse_ndef",
    "read_card_ndef",
    "smallest_tag",
    "type2_tlv",
    "unwrap_type2_tlv",
    "uri_record",
]

MIME_TYPE = "application/vnd.unioncard.uc1"

# Record header flags (NFC Forum NDEF 1.0, §3.2).
MB, ME, CF, SR, IL = 0x80, 0x40, 0x20, 0x10, 0x08
TNF_EMPTY, TNF_WELL_KNOWN, TNF_MEDIA, TNF_URI, TNF_EXTERNAL = 0, 1, 2, 3, 4
TNF_UNKNOWN, TNF_UNCHANGED, TNF_RESERVED = 5, 6, 7

# URI identifier codes (NFC Forum URI RTD 1.0, Table 3); index = code.
URI_PREFIXES = (
    "", "http://www.", "https://www.", "http://", "https://", "tel:", "mailto:",
    "ftp://anonymous:anonymous@", "ftp://ftp.", "ftps://", "sftp://", "smb://", "nfs://",
    "ftp://", "dav://", "news:", "telnet://", "imap:", "rtsp://", "urn:", "pop:", "sip:",
    "sips:", "tftp:", "btspp://", "btl2cap://", "btgoep://", "tcpobex://", "irdaobex://",
    "file://", "urn:epc:id:", "urn:epc:tag:", "urn:epc:pat:", "urn:epc:raw:", "urn:epc:",
    "urn:nfc:",
)  # fmt: skip

# Type 2 Tag TLVs (NFC Forum Type 2 Tag 1.0, §2.3).
NDEF_TLV, TERMINATOR_TLV, NULL_TLV, LOCK_TLV, MEMORY_TLV = 0x03, 0xFE, 0x00, 0x01, 0x02
_MAX_TLV_LENGTH = 0xFFFE


class NdefError(ValueError):
    """Bytes are not a well-formed NDEF message or Type 2 Tag NDEF TLV."""


class TagCapacityError(ValueError):
    """The NDEF message does not fit on any supported NFC tag."""


@dataclass(frozen=True, slots=True)
class NdefRecord:
    """One NDEF record: TNF (3 bits), type, payload and an optional ID."""

    tnf: int
    type: bytes
    payload: bytes
    id: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.tnf <= TNF_UNCHANGED:
            raise NdefError(f"TNF {self.tnf} is reserved or out of range")
        if len(self.type) > 255 or len(self.id) > 255:
            raise NdefError("record type and ID are at most 255 bytes")
        if len(self.payload) > 0xFFFFFFFF:
            raise NdefError("record payload is at most 2^32 - 1 bytes")
        if self.tnf == TNF_EMPTY and (self.type or self.payload or self.id):
            raise NdefError("an empty record (TNF 0) has no type, ID or payload")
        if self.tnf in (TNF_UNKNOWN, TNF_UNCHANGED) and self.type:
            raise NdefError(f"a record with TNF {self.tnf} has no type")
        if self.tnf in (TNF_WELL_KNOWN, TNF_MEDIA, TNF_URI, TNF_EXTERNAL) and not self.type:
            raise NdefError(f"a record with TNF {self.tnf} needs a type")


@dataclass(frozen=True, slots=True)
class NfcTag:
    """An NFC Forum Type 2 tag model and its user memory in bytes."""

    name: str
    user_memory: int


NTAG213 = NfcTag("NTAG213", 144)
NTAG215 = NfcTag("NTAG215", 504)
NTAG216 = NfcTag("NTAG216", 888)
TAGS = (NTAG213, NTAG215, NTAG216)


def _encode_record(record: NdefRecord, first: bool, last: bool) -> bytes:
    short = len(record.payload) < 256
    header = record.tnf | (MB if first else 0) | (ME if last else 0) | (SR if short else 0)
    if record.id:
        header |= IL
    out = bytearray((header, len(record.type)))
    out += len(record.payload).to_bytes(1 if short else 4, "big")
    if record.id:
        out.append(len(record.id))
    out += record.type + record.id + record.payload
    return bytes(out)


def encode_ndef(records: Sequence[NdefRecord]) -> bytes:
    """Serialise records as one NDEF message (short records where the payload is < 256 bytes).

    Raises:
        NdefError: no records.
    """
    if not records:
        raise NdefError("an NDEF message has at least one record")
    last = len(records) - 1
    return b"".join(_encode_record(r, i == 0, i == last) for i, r in enumerate(records))


def parse_ndef(data: bytes) -> tuple[NdefRecord, ...]:
    """Parse one complete NDEF message strictly (no chunks, no trailing bytes).

    Raises:
        NdefError: the bytes are empty, truncated, mis-flagged, chunked or followed by extra bytes.
    """
    records: list[NdefRecord] = []
    pos, n = 0, len(data)
    if n == 0:
        raise NdefError("empty input: an NDEF message has at least one record")
    while True:
        index = len(records)
        if pos + 2 > n:
            raise NdefError(f"record {index}: truncated header at byte {pos}")
        header, type_len = data[pos], data[pos + 1]
        pos += 2
        if bool(header & MB) != (index == 0):
            state = "missing" if index == 0 else "set"
            raise NdefError(f"record {index}: message-begin flag {state}")
        if header & CF:
            raise NdefError(f"record {index}: chunked records are not supported")
        tnf = header & 0x07
        if tnf == TNF_RESERVED:
            raise NdefError(f"record {index}: reserved TNF 7")
        length_size = 1 if header & SR else 4
        if pos + length_size > n:
            raise NdefError(f"record {index}: truncated payload length")
        payload_len = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        id_len = 0
        if header & IL:
            if pos + 1 > n:
                raise NdefError(f"record {index}: truncated ID length")
            id_len = data[pos]
            pos += 1
        end = pos + type_len + id_len + payload_len
        if end > n:
            raise NdefError(f"record {index}: needs {end - n} more bytes than given")
        rtype = data[pos : pos + type_len]
        rid = data[pos + type_len : pos + type_len + id_len]
        payload = data[pos + type_len + id_len : end]
        pos = end
        try:
            records.append(NdefRecord(tnf, bytes(rtype), bytes(payload), bytes(rid)))
        except NdefError as e:
            raise NdefError(f"record {index}: {e}") from e
        if header & ME:
            break
        if pos == n:
            raise NdefError(f"record {index}: message ends without the message-end flag")
    if pos != n:
        raise NdefError(f"{n - pos} bytes after the message-end record")
    return tuple(records)


def uri_record(uri: str) -> NdefRecord:
    """A well-known URI record ("U"), abbreviated with the longest matching identifier code.

    Raises:
        NdefError: the URI is empty or has whitespace or control characters.
    """
    if not uri or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        raise NdefError(f"not a usable URI: {uri!r}")
    code = max(
        (i for i, p in enumerate(URI_PREFIXES) if p and uri.startswith(p)),
        key=lambda i: len(URI_PREFIXES[i]),
        default=0,
    )
    rest = uri[len(URI_PREFIXES[code]) :]
    return NdefRecord(TNF_WELL_KNOWN, b"U", bytes((code,)) + rest.encode("utf-8"))


def _parse_uri(payload: bytes) -> str:
    if not payload:
        raise NdefError("empty URI record payload")
    if payload[0] >= len(URI_PREFIXES):
        raise NdefError(f"reserved URI identifier code 0x{payload[0]:02X}")
    try:
        return URI_PREFIXES[payload[0]] + payload[1:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise NdefError("URI record is not UTF-8") from e


def type2_tlv(message: bytes) -> bytes:
    """Wrap an NDEF message for a Type 2 tag: NDEF TLV (1- or 3-byte length) + terminator TLV.

    Raises:
        NdefError: the message is longer than a TLV can hold (65 534 bytes).
    """
    n = len(message)
    if n > _MAX_TLV_LENGTH:
        raise NdefError(f"an NDEF TLV holds at most {_MAX_TLV_LENGTH} bytes, not {n}")
    length = bytes((n,)) if n < 0xFF else b"\xff" + n.to_bytes(2, "big")
    return bytes((NDEF_TLV,)) + length + message + bytes((TERMINATOR_TLV,))


def unwrap_type2_tlv(memory: bytes) -> bytes:
    """The first NDEF message in Type 2 tag user memory (skipping NULL, lock and memory TLVs).

    Raises:
        NdefError: no NDEF TLV before the terminator, or a TLV runs past the end.
    """
    pos, n = 0, len(memory)
    while pos < n:
        tag = memory[pos]
        pos += 1
        if tag == NULL_TLV:
            continue
        if tag == TERMINATOR_TLV:
            break
        if pos >= n:
            raise NdefError("TLV length missing")
        length = memory[pos]
        pos += 1
        if length == 0xFF:
            if pos + 2 > n:
                raise NdefError("3-byte TLV length truncated")
            length = int.from_bytes(memory[pos : pos + 2], "big")
            pos += 2
        if pos + length > n:
            raise NdefError(f"TLV 0x{tag:02X} runs {pos + length - n} bytes past the end")
        if tag == NDEF_TLV:
            return bytes(memory[pos : pos + length])
        pos += length
    raise NdefError("no NDEF TLV found")


def smallest_tag(tlv_size: int, tags: Sequence[NfcTag] = TAGS) -> NfcTag:
    """The smallest tag whose user memory holds `tlv_size` bytes of TLVs.

    Raises:
        TagCapacityError: none of `tags` is large enough.
    """
    for tag in sorted(tags, key=lambda t: t.user_memory):
        if tlv_size <= tag.user_memory:
            return tag
    largest = max(tags, key=lambda t: t.user_memory)
    raise TagCapacityError(
        f"the NDEF data needs {tlv_size} bytes; the largest supported tag, "
        f"{largest.name}, holds {largest.user_memory}"
    )


@dataclass(frozen=True, slots=True)
class CardNdef:
    """The NDEF data of a card: the message, its Type 2 TLV form, and the tag it needs."""

    uc1_text: str
    verify_url: str
    message: bytes
    tlv: bytes
    tag: NfcTag

    @property
    def size(self) -> int:
        """Bytes of the bare NDEF message (what an `.ndef` file holds)."""
        return len(self.message)

    @property
    def tlv_size(self) -> int:
        """Bytes written to a Type 2 tag (NDEF TLV + terminator)."""
        return len(self.tlv)


def make_ndef(uc1_text: str, verify_url: str, tags: Sequence[NfcTag] = TAGS) -> CardNdef:
    """Build a card's NDEF message: a `application/vnd.unioncard.uc1` record, then a URI record.

    Raises:
        NdefError: the UC1 text is empty or not ASCII, or the URL is unusable.
        TagCapacityError: the message fits none of `tags`.
    """
    if not uc1_text:
        raise NdefError("the UC1 text is empty")
    try:
        payload = uc1_text.encode("ascii")
    except UnicodeEncodeError as e:
        raise NdefError("the UC1 text must be ASCII") from e
    records = (NdefRecord(TNF_MEDIA, MIME_TYPE.encode("ascii"), payload), uri_record(verify_url))
    message = encode_ndef(records)
    tlv = type2_tlv(message)
    return CardNdef(uc1_text, verify_url, message, tlv, smallest_tag(len(tlv), tags))


def read_card_ndef(message: bytes) -> tuple[str, str | None]:
    """The UC1 text and the first URI from a card's NDEF message.

    Raises:
        NdefError: the message is malformed, has no UC1 record, or the UC1 payload is not ASCII.
    """
    uc1: str | None = None
    uri: str | None = None
    for record in parse_ndef(message):
        if record.tnf == TNF_MEDIA and record.type.lower() == MIME_TYPE.encode("ascii"):
            if uc1 is not None:
                raise NdefError("more than one UC1 record")
            try:
                uc1 = record.payload.decode("ascii")
            except UnicodeDecodeError as e:
                raise NdefError("the UC1 record payload is not ASCII") from e
        elif record.tnf == TNF_WELL_KNOWN and record.type == b"U" and uri is None:
            uri = _parse_uri(record.payload)
    if uc1 is None:
        raise NdefError(f"no {MIME_TYPE} record")
    return uc1, uri
