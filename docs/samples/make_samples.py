"""Regenerate the committed sample card images: `.venv/bin/python docs/samples/make_samples.py`."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from cards.render import CardFace, render_card

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def sample_face() -> CardFace:
    """A fictional member of a fictional grassroots union (random, unsigned QR text)."""
    rng = random.Random(2025)
    return CardFace(
        name="Nguyễn Thị Kim Yến",
        birth_date=date(1994, 3, 14),
        member_number="27-0451-0038217",
        union_name="CĐCS Công ty TNHH Điện tử Quế Võ",
        province_name="Bắc Ninh",
        valid_from=date(2025, 1, 1),
        valid_until=date(2029, 12, 31),
        serial="UC1-27-000482",
        issuer_name="LĐLĐ tỉnh Bắc Ninh",
        qr_text="UC1:" + "".join(rng.choice(BASE45) for _ in range(296)),
        sex="Nữ",
        emergency="Nhóm máu O+ · Dị ứng: Penicillin",
    )


def main() -> None:
    """Write card-front.png and card-back.png next to this script."""
    here = Path(__file__).parent
    card = render_card(sample_face())
    (here / "card-front.png").write_bytes(card.front_png())
    (here / "card-back.png").write_bytes(card.back_png())


if __name__ == "__main__":
    main()
