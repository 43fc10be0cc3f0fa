"""Cross-site request forgery protection for the pages: every form carries a token bound to
the browser's session, and every page request that changes something must return it (the
session cookie is also ``SameSite=Lax``, so a foreign site's POST arrives without it)."""

from __future__ import annotations

import hmac
import secrets

from flask import request, session
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
#: What the page says of a refused form (its token missing, or of another session).
EXPIRED = _l("The form has expired or did not come from this site: reload the page and try "
             "again.")


class FormExpired(BadRequest):
    """A page request that changes something came without this session's token (400)."""

    description = "The form has expired or did not come from this site: reload the page and " \
                  "try again."


def token() -> str:
    """This session's token (made on first use), for a form's hidden field."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[SESSION_KEY] = value
    return value


def protect() -> None:
    """Before a page request: refuse (400) an unsafe method without this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FORM_FIELD) or request.headers.get(HEADER, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(),
                                                                sent.encode()):
        raise FormExpired()
