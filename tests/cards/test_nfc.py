"""Tests for cards.nfc: NDEF records, Type 2 TLV, tag sizing, and the strict parser."""

from __future__ import annotations

import ndef
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards.nfc import (
    MIME_TYPE,
    NTAG213,
    NTAG215,
    NTAG216,
    NdefError,
    NdefRecord,
    TagCapacityError,
    encode_ndef,
    make_ndef,
    parse_ndef,
    read_card_ndef,
    smallest_tag,
    type2_tlv,
    unwrap_type2_tlv,
    uri_record,
)

VERIFY = "https://the.unioncard.vn/v/UC1-27-000482"


def uc1(length: int) -> str:
    return ("UC1:" + "6BFOXN*TS0BI$ZD-4" * 40)[:length]


def test_small_message_bytes_exactly() -> None:
    card = make_ndef("UC1:AB", "https://x.vn/v")
    mime = MIME_TYPE.encode()
    expected = (
        bytes([0x80 | 0x10 | 0x02, len(mime), 6]) + mime + b"UC1:AB"
        + bytes([0x40 | 0x10 | 0x01, 1, 7]) + b"U" + b"\x04" + b"x.vn/v"
    )  # fmt: skip
    assert card.message == expected
    assert card.size == len(expected)
    assert card.tlv == b"\x03" + bytes([len(expected)]) + expected + b"\xfe"
    assert card.tlv_size == len(expected) + 3
    assert card.tag == NTAG213


def test_long_uc1_payload_uses_a_long_record() -> None:
    card = make_ndef(uc1(300), VERIFY)
    header, type_len = card.message[0], card.message[1]
    assert header == 0x80 | 0x02  # MB, TNF media type, no SR, no ME, no IL
    assert type_len == len(MIME_TYPE)
    assert card.message[2:6] == (300).to_bytes(4, "big")
    uri_header = card.message[6 + type_len + 300]
    assert uri_header == 0x40 | 0x10 | 0x01  # ME, SR, TNF well-known


@pytest.mark.parametrize("length", [300, 360])
def test_independent_decoder_reads_both_records(length: int) -> None:
    card = make_ndef(uc1(length), VERIFY)
    records = list(ndef.message_decoder(card.message))
    assert [r.type for r in records] == [MIME_TYPE, "urn:nfc:wkt:U"]
    assert bytes(records[0].data) == uc1(length).encode("ascii")
    assert records[1].iri == VERIFY
    assert card.tag == NTAG215


@pytest.mark.parametrize(
    ("uri", "code", "rest"),
    [
        ("https://the.unioncard.vn/v/1", 0x04, b"the.unioncard.vn/v/1"),
        ("https://www.unioncard.vn/", 0x02, b"unioncard.vn/"),
        ("http://a.vn", 0x03, b"a.vn"),
        ("tel:+84241234567", 0x05, b"+84241234567"),
        ("urn:nfc:sn:1", 0x23, b"sn:1"),
        ("geo:21.0,105.8", 0x00, b"geo:21.0,105.8"),
        ("https://đoàn.vn/", 0x04, "đoàn.vn/".encode()),
    ],
)
def test_uri_record_uses_the_longest_identifier_code(uri: str, code: int, rest: bytes) -> None:
    record = uri_record(uri)
    assert (record.tnf, record.type) == (1, b"U")
    assert record.payload == bytes([code]) + rest
    assert list(ndef.message_decoder(encode_ndef([record])))[0].iri == uri


@pytest.mark.parametrize("uri", ["", "https://a b", "https://a\n", "\x7f"])
def test_uri_record_rejects_unusable_uris(uri: str) -> None:
    with pytest.raises(NdefError):
        uri_record(uri)


@pytest.mark.parametrize(("size", "length_bytes"), [(0, 1), (254, 1), (255, 3), (1000, 3)])
def test_type2_tlv_length_forms(size: int, length_bytes: int) -> None:
    message = bytes(size)
    tlv = type2_tlv(message)
    assert tlv[0] == 0x03 and tlv[-1] == 0xFE
    assert len(tlv) == 1 + length_bytes + size + 1
    if length_bytes == 3:
        assert tlv[1] == 0xFF and int.from_bytes(tlv[2:4], "big") == size
    assert unwrap_type2_tlv(tlv) == message


def test_type2_tlv_too_long() -> None:
    with pytest.raises(NdefError):
        type2_tlv(bytes(0xFFFF))


def test_unwrap_skips_null_lock_and_memory_tlvs() -> None:
    memory = b"\x00\x01\x03\xa0\x0c\x34" + b"\x02\x03\x01\x02\x03" + type2_tlv(b"\xd0\x00\x00")
    assert unwrap_type2_tlv(memory + bytes(20)) == b"\xd0\x00\x00"


@pytest.mark.parametrize(
    "memory", [b"", b"\xfe\x03\x01\x00", b"\x03", b"\x03\xff\x01", b"\x03\x05\x00", b"\x00\x00"]
)
def test_unwrap_rejects_missing_or_truncated_tlvs(memory: bytes) -> None:
    with pytest.raises(NdefError):
        unwrap_type2_tlv(memory)


@pytest.mark.parametrize(
    ("tlv_size", "tag"),
    [(1, NTAG213), (144, NTAG213), (145, NTAG215), (504, NTAG215), (505, NTAG216), (888, NTAG216)],
)
def test_smallest_tag(tlv_size: int, tag: object) -> None:
    assert smallest_tag(tlv_size) == tag


def test_no_tag_large_enough_is_a_clear_error() -> None:
    with pytest.raises(TagCapacityError, match="889 bytes.*NTAG216, holds 888"):
        smallest_tag(889)
    with pytest.raises(TagCapacityError):
        make_ndef("UC1:" + "A" * 900, VERIFY)


def test_make_ndef_rejects_non_ascii_or_empty_text() -> None:
    with pytest.raises(NdefError):
        make_ndef("UC1:Đ", VERIFY)
    with pytest.raises(NdefError):
        make_ndef("", VERIFY)


def test_read_card_ndef_round_trip() -> None:
    card = make_ndef(uc1(300), VERIFY)
    assert read_card_ndef(card.message) == (uc1(300), VERIFY)
    assert read_card_ndef(unwrap_type2_tlv(card.tlv)) == (uc1(300), VERIFY)


def test_read_card_ndef_needs_a_uc1_record() -> None:
    with pytest.raises(NdefError, match="no application/vnd.unioncard.uc1 record"):
        read_card_ndef(encode_ndef([uri_record(VERIFY)]))


records = st.builds(
    NdefRecord,
    tnf=st.sampled_from([1, 2, 3, 4]),
    type=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                 max_size=40).map(str.encode),
    payload=st.binary(max_size=600),
    id=st.text(alphabet="abcXYZ019-", max_size=8).map(str.encode),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(records, min_size=1, max_size=4))
def test_parse_inverts_encode(recs: list[NdefRecord]) -> None:
    message = encode_ndef(recs)
    assert parse_ndef(message) == tuple(recs)
    # ndeflib checks type syntax too strictly for random types; compare framing with a MIME type.
    framed = [NdefRecord(2, b"application/x-test", r.payload, r.id) for r in recs]
    decoded = list(ndef.message_decoder(encode_ndef(framed)))
    expected = [(r.payload, r.id.decode("ascii")) for r in recs]
    assert [(bytes(r.data), r.name) for r in decoded] == expected


def short(header: int, rtype: bytes, payload: bytes) -> bytes:
    return bytes([header | 0x10, len(rtype), len(payload)]) + rtype + payload


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty input"),
        (b"\xd1", "truncated header"),
        (b"\xd1\x01", "truncated payload length"),
        (b"\xc1\x01\x00\x00\x00", "truncated payload length"),
        (short(0xC1, b"U", b"\x04abc")[:-1], "more bytes"),
        (short(0x41, b"U", b"\x04a"), "message-begin flag missing"),
        (short(0x81, b"U", b"\x04a"), "without the message-end flag"),
        (short(0x81, b"U", b"\x04a") + short(0xC1, b"U", b"\x04b"), "message-begin flag set"),
        (short(0xC1, b"U", b"\x04a") + b"\x00", "1 bytes after"),
        (short(0xE1, b"U", b"\x04a"), "chunked"),
        (short(0xC7, b"U", b"\x04a"), "reserved TNF"),
        (short(0xC0, b"U", b""), "empty record"),
        (short(0xC5, b"x", b""), "has no type"),
        (short(0xC1, b"", b"x"), "needs a type"),
        (bytes([0xD9, 1, 1]), "truncated ID length"),
    ],
)
def test_parse_rejects_malformed_messages(data: bytes, reason: str) -> None:
    with pytest.raises(NdefError, match=reason):
        parse_ndef(data)


def test_parse_accepts_an_empty_record_and_ids() -> None:
    assert parse_ndef(b"\xd0\x00\x00") == (NdefRecord(0, b"", b""),)
    with_id = bytes([0xD9, 1, 1, 2]) + b"U" + b"id" + b"\x00"
    assert parse_ndef(with_id) == (NdefRecord(1, b"U", b"\x00", b"id"),)
