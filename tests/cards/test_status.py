"""Bitstring status lists: W3C bit order, encoding, bounds and random index allocation."""

from __future__ import annotations

import base64
import gzip

import pytest

from cards.b64 import b64url_encode
from cards.errors import StatusListError
from cards.status import MIN_ENTRIES, StatusList, allocate_index


def test_bit_order_is_msb_first() -> None:
    sl = StatusList(1, "revocation")
    sl.set(0)
    sl.set(9)
    raw = gzip.decompress(base64.urlsafe_b64decode(sl.encode()[1:] + "=="))
    assert raw[:2] == bytes([0b1000_0000, 0b0100_0000])
    assert len(raw) * 8 == MIN_ENTRIES
    assert sl.set_indices() == [0, 9]
    sl.clear(0)
    assert not sl.get(0) and sl.get(9)


def test_encoded_list_round_trips_and_is_deterministic() -> None:
    sl = StatusList(7, "suspension", MIN_ENTRIES * 2)
    for i in (1, 5000, MIN_ENTRIES * 2 - 1):
        sl.set(i)
    encoded = sl.encode()
    assert encoded.startswith("u") and "=" not in encoded
    assert encoded == sl.copy().encode()
    back = StatusList.decode(7, "suspension", encoded)
    assert back.size == MIN_ENTRIES * 2
    assert back.set_indices() == [1, 5000, MIN_ENTRIES * 2 - 1]


@pytest.mark.parametrize("index", [-1, MIN_ENTRIES, True, "3"])
def test_index_out_of_range(index: object) -> None:
    with pytest.raises(StatusListError) as info:
        StatusList(1, "revocation").get(index)  # type: ignore[arg-type]
    assert info.value.reason == "index-out-of-range"


@pytest.mark.parametrize(
    ("args"),
    [(1, "expiry", MIN_ENTRIES), (1, "revocation", 1024), (1, "revocation", MIN_ENTRIES + 1), (-1, "revocation", MIN_ENTRIES)],
)
def test_invalid_lists(args: tuple[int, str, int]) -> None:
    with pytest.raises(StatusListError):
        StatusList(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "encoded",
    [
        "H4sI",  # no multibase prefix
        "u!!!",
        "u" + b64url_encode(b"not gzip"),
        "u" + b64url_encode(gzip.compress(b"\x00" * 100)),  # too short
        "u" + b64url_encode(gzip.compress(b"\x00" * (2**24 // 8 + 8))),  # too long (bomb)
        "u" + b64url_encode(gzip.compress(b"\x00" * (MIN_ENTRIES // 8))[:-4]),  # truncated
    ],
)
def test_decode_rejects_bad_encoded_lists(encoded: str) -> None:
    with pytest.raises(StatusListError):
        StatusList.decode(1, "revocation", encoded)


def test_allocation_is_random_and_avoids_used_indices() -> None:
    used: set[int] = set()
    for _ in range(2000):
        index = allocate_index(used)
        assert 0 <= index < MIN_ENTRIES and index not in used
        used.add(index)
    assert max(used) > MIN_ENTRIES // 2  # spread over the whole list, not sequential


def test_allocation_fills_a_nearly_full_list_then_refuses() -> None:
    size = 64
    used = set(range(size)) - {3, 40}
    assert allocate_index(used, size) in {3, 40}
    with pytest.raises(StatusListError) as info:
        allocate_index(set(range(size)), size)
    assert info.value.reason == "list-full"


def test_raw_bytes_round_trip() -> None:
    from cards.status import StatusList

    original = StatusList(3, "suspension")
    original.set(0)
    original.set(131_071)
    copy = StatusList.from_bytes(3, "suspension", original.to_bytes())
    assert copy.set_indices() == [0, 131_071]
    assert copy.encode() == original.encode()
