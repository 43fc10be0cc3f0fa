"""Guards of a member's presence at a clinic: each clinic client's wrong PINs per time window
(a cap across members), and each presence token bound to the first clinic that presents it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class PinClientWindow(Base):
    """One clinic API client's PIN checks in one fixed time window (``window_start``, as long
    as ``PIN_CLIENT_WINDOW_SECONDS``), whichever members they were for.

    ``failures`` counts the wrong PINs and the checks still under way (each check takes a slot
    before the PIN is compared, and a right PIN gives it back), so no more than the cap are
    ever compared in a window, however many arrive at once; ``refused`` counts the checks
    refused at the cap, ``capped_at`` is the first of them.
    """

    __tablename__ = "pin_client_windows"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    clinic_code: Mapped[str] = mapped_column(String(16))
    failures: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    capped_at: Mapped[datetime | None] = mapped_column(default=None)


class PresenceBinding(Base):
    """A presence token (the member's phone code) bound to the clinic that first presented
    it: another clinic is refused, this one may use it again until it expires. The token is
    kept only as its SHA-256; rows past ``expires_at`` are pruned by the worker."""

    __tablename__ = "presence_bindings"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    clinic_code: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(64))
    card_serial: Mapped[str] = mapped_column(String(32))
    bound_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
