"""The pages' languages: Vietnamese by default, English by a switch kept in the session
(gettext catalogs under ``app/web/translations``, compiled ``.mo`` files shipped in the
package), and times shown in Vietnam's time zone."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from flask import Flask, session
from flask_babel import Babel, format_date, format_datetime

from app.clock import VIETNAM
from app.edge.page_auth import LANGUAGE_KEY
from app.web import wording

#: The languages offered, the default first.
LANGUAGES = ("vi", "en")
SESSION_KEY = LANGUAGE_KEY  # kept across sign-in and sign-out by app.edge.page_auth
TRANSLATIONS = Path(__file__).parent / "translations"


def current_language() -> str:
    """The language chosen in this browser session, Vietnamese unless English was picked."""
    chosen = session.get(SESSION_KEY)
    return chosen if chosen in LANGUAGES else LANGUAGES[0]


#: Day first and four-digit years in both languages: "2/7/88" reads as a year of this century
#: to some and the month first to others (English's short form is the US one).
DATE_FORMAT = "dd/MM/yyyy"
TIME_FORMAT = "dd/MM/yyyy HH:mm"


def local_time(value: datetime | None, fmt: str = TIME_FORMAT) -> str:
    """A stored (UTC) time as Vietnam's wall-clock time in the page's language ('' for None);
    a time without zone is taken as UTC, as the database keeps it."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return str(format_datetime(value, fmt))


def local_date(value: date | None, fmt: str = DATE_FORMAT) -> str:
    """A calendar date in the page's language ('' for None)."""
    return "" if value is None else str(format_date(value, fmt))


def init_app(app: Flask) -> None:
    """Install Flask-Babel with the session's language and Vietnam's time zone, and the
    ``localtime``/``localdate`` template filters, and ``reason``/``said``/``action`` for a
    service's reason codes, field messages and audit actions (``app.web.wording``)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", str(VIETNAM))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=current_language)
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["localdate"] = local_date
    app.jinja_env.filters["reason"] = wording.reason
    app.jinja_env.filters["said"] = wording.message
    app.jinja_env.filters["action"] = wording.action
    app.jinja_env.globals["current_language"] = current_language
