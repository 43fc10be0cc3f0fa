"""A member's own health summary: all of it (or the sections asked for), as the stored
document or as an IPS FHIR document Bundle. A member reads their own record without consent."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from app.services.errors import HealthSummaryMissing
from app.services.health import fhir_out
from app.services.health.store import HealthStore
from app.services.health.summary import (
    DOCUMENT_VERSION,
    SECTIONS,
    HealthSummary,
    check_sections,
)

_CURRENT_VERSION_TAIL = f',"version":{DOCUMENT_VERSION}}}'.encode()


def own_summary(store: HealthStore, member_id: int) -> HealthSummary:
    """The member's stored summary.

    Raises:
        HealthSummaryMissing: nothing is stored for the member.
    """
    document = store.load(member_id)
    if document is None:
        raise HealthSummaryMissing("No health summary is stored for you yet.")
    return HealthSummary.from_document(document)


def own_document_bytes(store: HealthStore, member_id: int,
                       sections: Iterable[str] = SECTIONS) -> bytes:
    """``own_document`` as UTF-8 JSON. The whole summary (every section) is the stored
    document's canonical JSON as it is, unparsed: what the feed stored is ``to_document()`` of
    every section, sensitive entries included, so parsing and re-serialising it would give the
    same document (a test proves it for every shipped fixture); a document of another version
    goes through the parser.

    Raises:
        HealthSummaryMissing. ValueError: an unknown section.
    """
    wanted = set(check_sections(sections))
    if wanted == set(SECTIONS):
        plain = store.load_canonical(member_id)
        if plain is None:
            raise HealthSummaryMissing("No health summary is stored for you yet.")
        # canonical JSON sorts the keys: the top-level "version" is the last member
        if plain.endswith(_CURRENT_VERSION_TAIL):
            return plain
    return json.dumps(own_document(store, member_id, sections),
                      ensure_ascii=False).encode("utf-8")


def own_document(store: HealthStore, member_id: int,
                 sections: Iterable[str] = SECTIONS) -> dict[str, Any]:
    """The member's summary document with ``sections`` (sensitive entries included).

    Raises:
        HealthSummaryMissing. ValueError: an unknown section.
    """
    return own_summary(store, member_id).to_document(sections, sensitive=True)


def own_fhir_document(store: HealthStore, member_id: int,
                      sections: Iterable[str] = SECTIONS) -> dict[str, Any]:
    """The member's summary (``sections``) as an IPS-shaped FHIR document Bundle.

    Raises:
        HealthSummaryMissing. ValueError: an unknown section.
    """
    return fhir_out.build_document(own_summary(store, member_id), now=store.clock(),
                                   sections=sections, sensitive=True)
