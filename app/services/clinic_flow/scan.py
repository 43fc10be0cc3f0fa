"""Scan intake: what a clinic scanned (the UC1 text, an NFC NDEF message, a photo of the card
or of the phone screen) turned into the UC1 text, every input bounded, every failure a
specific ``ScanInvalid``."""

from __future__ import annotations

import base64
import binascii
import io
import re
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from app.services.errors import ImageDecodeTimeout, ImageTooLarge, ScanInvalid
from cards.nfc import NdefError, read_card_ndef

#: The photo formats accepted (Pillow's format names); anything else is ``not-an-image``.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
#: The longest NDEF message read (a card's is about 400 bytes; NTAG216 holds 888).
MAX_NDEF_BYTES = 8192
_MAX_NDEF_BASE64 = (MAX_NDEF_BYTES + 2) // 3 * 4 + 4
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


@dataclass(frozen=True)
class ScanLimits:
    """Bounds on an uploaded photo: bytes, pixels (checked from the header, before any pixel
    is decoded), the longest side decoded (larger photos are scaled down first) and the
    seconds the QR search may take."""

    max_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 40_000_000
    decode_side: int = 2000
    timeout_seconds: float = 3.0


# Decoding runs in a small pool so a slow image can be abandoned after its time; the pool's
# size bounds how many abandoned decodes can still be running.
_POOL_SIZE = 2
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _decoder_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="qr-decode")
        return _pool


def from_text(text: str) -> str:
    """The scanned UC1 text as given (stripped of surrounding white space; the card library
    checks its size and layers)."""
    return text.strip()


def from_ndef(encoded: str) -> str:
    """The UC1 text of an NFC NDEF message sent as base64.

    Raises:
        ScanInvalid: ``bad-base64``, ``ndef-too-large``, ``bad-ndef`` (not an NDEF message) or
            ``no-uc1-record`` (an NDEF message without the card's UC1 record).
    """
    compact = "".join(encoded.split())
    if len(compact) > _MAX_NDEF_BASE64:
        raise ScanInvalid(f"The NDEF message is larger than {MAX_NDEF_BYTES} bytes.",
                          reason="ndef-too-large")
    if not _BASE64.fullmatch(compact):
        raise ScanInvalid("The NDEF message is not base64.", reason="bad-base64")
    try:  # standard or URL-safe alphabet, padding optional
        message = base64.urlsafe_b64decode(
            compact.replace("+", "-").replace("/", "_") + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        raise ScanInvalid("The NDEF message is not base64.", reason="bad-base64") from None
    if not message:
        raise ScanInvalid("The NDEF message is empty.", reason="bad-ndef")
    try:
        text, _uri = read_card_ndef(message)
    except NdefError as e:
        reason = "no-uc1-record" if "no application/" in str(e) else "bad-ndef"
        raise ScanInvalid(f"Not a card's NDEF message: {e}.", reason=reason) from None
    return text


def from_photo(data: bytes, limits: ScanLimits = ScanLimits()) -> str:
    """The text of the QR code in a photo (JPEG, PNG or WebP) of a card or a phone screen.

    Raises:
        ImageTooLarge: ``too-many-bytes`` or ``too-many-pixels`` (from the header, before any
            pixel is decoded). ScanInvalid: ``not-an-image`` (or a format not accepted),
            ``bad-image`` (a truncated or corrupt file), ``no-code-found``.
        ImageDecodeTimeout: the QR search took longer than ``limits.timeout_seconds``.
    """
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"The photo is larger than {limits.max_bytes} bytes.",
                            reason="too-many-bytes")
    started = time.monotonic()
    future = _decoder_pool().submit(_decode, data, limits)
    too_slow = ImageDecodeTimeout(
        f"Reading the photo took longer than {limits.timeout_seconds:g} s.",
        reason="decode-timeout")
    try:
        text = future.result(timeout=limits.timeout_seconds)
    except FutureTimeout:
        future.cancel()  # a decode already running finishes in its thread, unheard
        raise too_slow from None
    # a busy machine may not have woken this thread in time: the bound is on the answer
    if time.monotonic() - started > limits.timeout_seconds:
        raise too_slow
    return text


def _decode(data: bytes, limits: ScanLimits) -> str:
    """Open (header only), check the pixel count, then decode, scale down and search."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # our own pixel bound is checked below; Pillow's bomb warning must not escape
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"The photo has more than {limits.max_pixels} pixels.",
                            reason="too-many-pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ScanInvalid("The upload is not a JPEG, PNG or WebP image.",
                          reason="not-an-image") from None
    with image:
        width, height = image.size
        if width * height > limits.max_pixels:
            raise ImageTooLarge(
                f"The photo has {width}x{height} pixels; at most {limits.max_pixels} are read.",
                reason="too-many-pixels")
        try:
            if image.format == "JPEG":
                image.draft("L", (limits.decode_side, limits.decode_side))  # decode scaled
            gray = image.convert("L")
            if max(gray.size) > limits.decode_side:
                gray.thumbnail((limits.decode_side, limits.decode_side))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise ScanInvalid("The image is truncated or corrupt.", reason="bad-image") from None
    results = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),

                                     try_rotate=True, try_downscale=True)
    texts = [r.text for r in results if r.valid and r.text]
    if not texts:
        raise ScanInvalid("No QR code was found in the photo.", reason="no-code-found")
    return texts[0]
