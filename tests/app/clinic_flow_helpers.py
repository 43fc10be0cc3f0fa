"""Helpers for the clinic-flow tests: tampered and foreign card texts, card photos rendered
by the project and made to look photographed, and odd images."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import cbor2
from PIL import Image, ImageFilter

import cards
from cards import cose, testing
from cards.encoding import decode_text, encode_text, maybe_inflate
from cards.verify import read_claims


def tampered(text: str) -> str:
    """The card text with one signature byte changed (the layers still parse)."""
    tag = cbor2.loads(maybe_inflate(decode_text(text)))
    protected, unprotected, payload, signature = tag.value
    signature = bytes([signature[0] ^ 0x01]) + signature[1:]
    return encode_text(cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload,
                                                      signature])))


def signed_elsewhere(text: str) -> str:
    """The same claims signed by a key the service does not know (another issuer's)."""
    claims = read_claims(cose.decode(maybe_inflate(decode_text(text))).payload)
    other = testing.other_signing_key(claims.issuer)
    return cards.issue(claims, other, now=datetime.fromtimestamp(claims.issued_at, tz=UTC))


def photographed(png: bytes, *, angle: float = 6.0, blur: float = 1.0, quality: int = 70,
                 scale: float = 0.8) -> bytes:
    """A rendered card made to look like a phone photo: on a grey table, rotated, scaled,
    blurred and saved as a lossy JPEG."""
    card = Image.open(io.BytesIO(png)).convert("RGB")
    card = card.resize((int(card.width * scale), int(card.height * scale)))
    table = Image.new("RGB", (card.width + 300, card.height + 300), (118, 112, 104))
    table.paste(card, (150, 150))
    photo = table.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(118, 112, 104))
    photo = photo.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=quality)
    return out.getvalue()


def image_bytes(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG file whose header claims ``width`` x ``height`` pixels (a decompression
    bomb's shape: its pixels are never needed to refuse it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))
