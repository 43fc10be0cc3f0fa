"""The one fact of a health summary that offices may count: when the member last had a routine
occupational exam (Law on Occupational Safety and Hygiene 2015, art. 21: at least once a year;
twice a year for heavy, hazardous or dangerous work). Only the date is kept, only of routine
exams (periodic or pre-employment), never of an exam the feed marked sensitive, and never any
finding or result."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from app.services.health.summary import HealthSummary

#: The exam types that are routine for everyone at work.
ROUTINE_EXAMS = ("periodic", "pre-employment")
#: An exam is due when the last one is older than this (the law's yearly minimum).
EXAM_INTERVAL_DAYS = 365


def _as_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def last_routine_exam(document: Mapping[str, Any]) -> date | None:
    """The date of the latest routine, non-sensitive occupational exam in a summary document
    (None when it has none, or cannot be read)."""
    try:
        summary = HealthSummary.from_document(document)
    except ValueError:
        return None
    dates = [d for d in (_as_date(e.date) for e in summary.occ_exams
                         if e.exam_type in ROUTINE_EXAMS and not e.sensitive) if d is not None]
    return max(dates, default=None)
