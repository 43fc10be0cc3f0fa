"""A member's own health summary: all of it (or the sections asked for), as the stored
document or as an IPS FHIR document Bundle. A member reads their own record without consent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.services.errors import HealthSummaryMissing
from app.services.health import fhir_out
from app.services.health.store import HealthStore
from app.services.health.summary import SECTIONS, HealthSummary


def own_summary(store: HealthStore, member_id: int) -> HealthSummary:
    """The member's stored summary.

    Raises:
        HealthSummaryMissing: nothing is stored for the member.
    """
    document = store.load(member_id)
    if document is None:
        raise HealthSummaryMissing("No health summary is stored for you yet.")
    return HealthSummary.from_document(document)


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
