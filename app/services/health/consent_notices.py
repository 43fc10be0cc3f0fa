"""The consent notices the service ships (app/data/consent-notices/VERSION.LANG.txt): the exact
text a member is shown before consenting, and its SHA-256, recorded with each consent version."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

from app.services.errors import ConsentNoticeUnknown

#: The notice shown for new consents; older versions stay shipped (their evidence names them).
CURRENT_NOTICE = "2026-1"
NOTICE_VERSIONS = ("2026-1",)
LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Notice:
    """One notice text: its version, language, the exact text and the SHA-256 of its UTF-8
    bytes (hex)."""

    version: str
    language: str
    text: str
    sha256: str


@functools.cache
def notice(version: str = CURRENT_NOTICE, language: str = "vi") -> Notice:
    """The shipped notice of ``version`` in ``language``.

    Raises:
        ConsentNoticeUnknown: no such version or language.
    """
    if version not in NOTICE_VERSIONS or language not in LANGUAGES:
        raise ConsentNoticeUnknown.field(
            "notice", f"No consent notice {version!r} in {language!r}; the current one is "
                      f"{CURRENT_NOTICE!r} in {', '.join(LANGUAGES)}.")
    raw = resources.files("app").joinpath("data", "consent-notices",
                                          f"{version}.{language}.txt").read_bytes()
    return Notice(version, language, raw.decode("utf-8"), hashlib.sha256(raw).hexdigest())
