"""Regenerate the committed sample card images: `.venv/bin/python docs/samples/make_samples.py`."""

from __future__ import annotations

from pathlib import Path

from cards.printing import CardFace, render_card
from cards.testing import random_uc1_text, reference_face


def sample_face() -> CardFace:
    """A fictional member of a fictional grassroots union (random, unsigned QR text)."""
    return reference_face(random_uc1_text(300, seed=2025))


def main() -> None:
    """Write card-front.png and card-back.png next to this script."""
    here = Path(__file__).parent
    card = render_card(sample_face())
    (here / "card-front.png").write_bytes(card.front_png())
    (here / "card-back.png").write_bytes(card.back_png())


if __name__ == "__main__":
    main()
