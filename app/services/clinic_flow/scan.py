"""Scan intake: what a clinic scanned (the UC1 text, an NFC NDEF message, a photo of the card
or of the phone screen) turned into the UC1 text, every input bounded, every failure a
specific ``ScanInvalid``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from app.services.errors import DecodesBusy, ImageDecodeTimeout, ImageTooLarge, ScanInvalid
from cards.errors import CardError
from cards.nfc import NdefError, read_card_ndef
from cards.verify import parse_card

#: The photo formats accepted (Pillow's format names); anything else is ``not-an-image``.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
#: The longest NDEF message read (a card's is about 400 bytes; NTAG216 holds 888).
MAX_NDEF_BYTES = 8192
_MAX_NDEF_BASE64 = (MAX_NDEF_BYTES + 2) // 3 * 4 + 4
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


@dataclass(frozen=True)
class ScanLimits:
    """Bounds on an uploaded photo: bytes; pixels, in the header (checked before any pixel is
    decoded) and as decoded (a JPEG is decoded scaled down by its DCT draft to near
    ``decode_side``; a PNG or WebP is decoded in full, so its header is held to this bound);
    the longest side searched (larger photos are scaled down first); the seconds the QR
    search may take; and how many decodes one client may have running at once, of the
    ``threads`` that decode for every client (in this process)."""

    max_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_decoded_pixels: int = 16_000_000
    decode_side: int = 2000
    timeout_seconds: float = 3.0
    per_client: int = 2
    threads: int = 4


# Decoding runs in a small pool so a slow image can be abandoned after its time; a decode
# abandoned still holds its thread until it ends, and its client's slot with it: one client
# may hold ``per_client`` of the pool's ``threads`` (fewer), so the others always find one.
_pools: dict[int, ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()
_running: Counter[str] = Counter()


def _decoder_pool(threads: int) -> ThreadPoolExecutor:
    with _pool_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="qr-decode")
        return pool


def _take_slot(client: str, limits: ScanLimits) -> None:
    with _pool_lock:
        if _running[client] >= limits.per_client:
            raise DecodesBusy(
                f"This client already has {limits.per_client} photo(s) being read; send the "
                "next when one is answered.", retry_after=1)
        _running[client] += 1


def _free_slot(client: str) -> None:
    with _pool_lock:
        _running[client] -= 1
        if _running[client] <= 0:
            del _running[client]


def from_text(text: str) -> str:
    """The scanned UC1 text exactly as given: nothing is trimmed or normalised (docs/uc1.md
    §1: a space is a base45 digit), so text with white space around it is refused by the card
    library as any other malformed card (``bad-prefix``, ``bad-base45``...)."""
    return text


def card_key(text: str) -> str:
    """Which card a scanned text is, for its rate-limit bucket: the SHA-256 of its signed
    payload (the same for every encoding of one card: compressed or not, another zlib
    stream, other unprotected headers), or of the text itself when it is not a card."""
    try:
        identity = b"payload:" + parse_card(text).payload
    except CardError:
        identity = b"text:" + text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(identity).hexdigest()[:32]


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


def from_photo(data: bytes, limits: ScanLimits = ScanLimits(), *, client: str) -> str:
    """The text of the QR code in a photo (JPEG, PNG or WebP) of a card or a phone screen,
    decoded in one of ``client``'s slots.

    Raises:
        ImageTooLarge: ``too-many-bytes`` or ``too-many-pixels`` (from the header, before any
            pixel is decoded). ScanInvalid: ``not-an-image`` (or a format not accepted),
            ``bad-image`` (a truncated or corrupt file), ``no-code-found``.
        ImageDecodeTimeout: the QR search took longer than ``limits.timeout_seconds``.
        DecodesBusy: ``client`` already has ``limits.per_client`` decodes running.
    """
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"The photo is larger than {limits.max_bytes} bytes.",
                            reason="too-many-bytes")
    _take_slot(client, limits)

    def decode() -> str:
        try:
            return _decode(data, limits)
        finally:  # the slot is free before the answer is: a client's next photo may start
            _free_slot(client)

    started = time.monotonic()
    try:
        future = _decoder_pool(limits.threads).submit(decode)
    except BaseException:
        _free_slot(client)
        raise
    too_slow = ImageDecodeTimeout(
        f"Reading the photo took longer than {limits.timeout_seconds:g} s.",
        reason="decode-timeout")
    try:
        text = future.result(timeout=limits.timeout_seconds)
    except FutureTimeout:
        # a decode already running finishes in its thread, unheard, and holds its slot till
        # then; one still waiting for a thread is dropped, and its slot with it
        if future.cancel():
            _free_slot(client)
        raise too_slow from None
    # a busy machine may not have woken this thread in time: the bound is on the answer
    if time.monotonic() - started > limits.timeout_seconds:
        raise too_slow
    return text


def _decode(data: bytes, limits: ScanLimits) -> str:
    """Open (header only), check the pixel count, then decode, scale down and search."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError
    from PIL.JpegImagePlugin import JpegImageFile

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
            if isinstance(image, JpegImageFile):  # a camera's MPO too: decoded scaled down
                image.draft("L", (limits.decode_side, limits.decode_side))
            decoded_width, decoded_height = image.size
            if decoded_width * decoded_height > limits.max_decoded_pixels:
                raise ImageTooLarge(
                    f"The photo has {width}x{height} pixels; a {image.format} photo is "
                    f"decoded at {decoded_width}x{decoded_height} and at most "
                    f"{limits.max_decoded_pixels} pixels are decoded.",
                    reason="too-many-pixels")
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
