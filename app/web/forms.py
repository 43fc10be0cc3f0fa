"""One-time form tokens for the pages' state-changing forms (Post/Redirect/Get made safe):
a form sent twice — Back then Reload, a double click, a resubmission — acts once.

How to use it on a form (console or portal):

1. In the template, inside the ``<form method="post">`` beside ``{{ csrf() }}``, put
   ``{{ once() }}`` (from ``console/macros.html``), or ``{{ form_token_field() }}`` anywhere:
   a hidden ``form_token`` field with a fresh random token, one per page rendering.
2. Decorate the view with ``@once`` (below ``@bp.post``/``@bp.route`` and ``@accepts``).
   On POST it requires the token (a missing or malformed one answers 400 with the page's
   "reload the page" error), claims it in the request's transaction, then runs the view:

   - the view answers a redirect (303, Post/Redirect/Get): the redirect's path is kept, and a
     repeat of the token is redirected there again (the first result) without acting;
   - the view answers a page or a file (2xx): a repeat gets the "already done" page
     (``console/already_done.html``, 409) with a link back (``back`` argument of the
     decorator: a callable of the view's arguments giving a URL, optional);
   - the view fails (a 4xx page such as a form with errors, or an exception): the request's
     transaction is rolled back with the claim, so the same form can be corrected and sent.

   GET requests pass straight through, so ``@bp.route(..., methods=["GET", "POST"])`` views
   may be decorated whole.
3. Anything to show once after the redirect (an activation code) goes into the session with
   ``keep_once(name, text)`` before redirecting and is taken with ``take_once(name)`` by the
   GET (encrypted in the session cookie, never in the URL; gone once taken).

Tokens are remembered for a day (``app.services.form_submissions.KEEP``), per signed-in actor.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session
from markupsafe import Markup

from app.composition import data_cipher
from app.edge.auth import actor
from app.extensions import db
from app.services import form_submissions

F = TypeVar("F", bound=Callable[..., Any])
FIELD = "form_token"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_SHOWN_KEY = "show_once"
_SHOWN_CONTEXT = "page.show-once"
#: At most this many things waiting to be shown once in one session (oldest dropped: the
#: session is a cookie of at most 4 KB; a dropped activation code is replaced by a new one).
_SHOWN_MAX = 4


def new_token() -> str:
    """A fresh one-time token for one rendering of a form."""
    return secrets.token_urlsafe(24)


def form_token_field() -> Markup:
    """The hidden field carrying a fresh one-time token (a Jinja global)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, new_token())


def _token_key() -> str:
    sent = request.form.get(FIELD, "")
    if not _TOKEN_RE.match(sent):
        abort(400, description="The form has expired or did not come from this site: "
                               "reload the page and try again.")
    return hashlib.sha256(f"{actor()}\x00{sent}".encode()).hexdigest()


def _location_path(response: Any) -> str:
    location = str(response.headers.get("Location", ""))
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@overload
def once(view: F) -> F: ...


@overload
def once(*, back: Callable[..., str] | None = None) -> Callable[[F], F]: ...


def once(view: F | None = None, *, back: Callable[..., str] | None = None) -> Any:
    """Decorator: the view's POST acts at most once per form token (see the module)."""
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method != "POST":
                return func(*args, **kwargs)
            key = _token_key()
            earlier = form_submissions.claim(db.session, key)
            if earlier is not None:
                if earlier.result:
                    return redirect(earlier.result, code=303)
                return render_template("console/already_done.html",
                                       back=back(*args, **kwargs) if back else None), 409
            response = current_app.make_response(func(*args, **kwargs))
            if 300 <= response.status_code < 400:
                form_submissions.settle(db.session, key, _location_path(response))
            return response
        return cast(F, wrapper)
    return decorate(view) if view is not None else decorate


def _kept() -> list[list[str]]:
    """The session's things to show once: [name, sealed text] pairs, oldest first (a list:
    the session's JSON sorts a mapping's keys)."""
    kept = session.get(_SHOWN_KEY)
    return [list(pair) for pair in kept if isinstance(pair, list) and len(pair) == 2] \
        if isinstance(kept, list) else []


def keep_once(name: str, text: str) -> None:
    """Keep ``text`` (encrypted) in the session until ``take_once(name)`` shows it."""
    kept = [pair for pair in _kept() if pair[0] != name]
    kept.append([name, base64.urlsafe_b64encode(
        data_cipher().encrypt(text, _SHOWN_CONTEXT, name)).decode("ascii")])
    session[_SHOWN_KEY] = kept[-_SHOWN_MAX:]


def take_once(name: str) -> str | None:
    """The text kept under ``name``, removed from the session (``None``: none, or shown)."""
    kept = _kept()
    blob = next((pair[1] for pair in kept if pair[0] == name), None)
    if blob is None:
        return None
    session[_SHOWN_KEY] = [pair for pair in kept if pair[0] != name]
    try:
        return data_cipher().decrypt(base64.urlsafe_b64decode(blob), _SHOWN_CONTEXT, name)
    except Exception:  # a key rotated away or a damaged value: nothing to show
        return None
