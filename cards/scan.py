"""Reading a card's QR code from an image (a scan, a phone photo, a rendered PNG)."""

from __future__ import annotations

from pathlib import Path

#: Larger images are refused before decoding (decompression-bomb guard).
MAX_IMAGE_PIXELS = 40_000_000


class ScanError(ValueError):
    """The image could not be read or holds no QR code."""


def read_qr_image(path: str | Path) -> str:
    """The text of the first QR code in the image at ``path``.

    Raises:
        ScanError: zxing-cpp/Pillow missing, unreadable or oversized image, or no QR code.
    """
    try:
        import zxingcpp
        from PIL import Image
    except ImportError as e:
        raise ScanError("reading images needs zxing-cpp and Pillow: pip install zxing-cpp pillow"
                        ) from e
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(path) as image:
            results = zxingcpp.read_barcodes(image.convert("RGB"))
    except (OSError, Image.DecompressionBombError) as e:
        raise ScanError(f"cannot read image {path}: {e}") from e
    texts = [r.text for r in results if r.text]
    if not texts:
        raise ScanError(f"no QR code found in {path}")
    return texts[0]
