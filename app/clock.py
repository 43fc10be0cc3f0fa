"""Time as the service sees it: UTC inside, Vietnam's calendar date for age rules."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def timestamp() -> float:
    """The current time in POSIX seconds (for clocks that count seconds, such as tokens')."""
    return now().timestamp()


def today_in_vietnam(at: datetime | None = None) -> date:
    """The calendar date in Vietnam (ages and join dates are judged on it)."""
    return (at or now()).astimezone(VIETNAM).date()
