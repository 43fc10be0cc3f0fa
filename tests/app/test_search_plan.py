"""The member searches use indexes (the real SQL of the service, explained on each backend)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text

from app.config import decode_data_key
from app.crypto import DataCipher
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.registry.members import MemberRegistry, SearchFilters
from tests.conftest import TEST_CONFIG


def _captured_queries(session, filters: SearchFilters) -> list[tuple[str, Any]]:
    registry = MemberRegistry(session, DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                        lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"])),
                              actor="test")
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "FROM members" in statement:
            seen.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        registry.search(Scope(Principal("user", 1, "officer", "24")), filters)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert seen, "the search ran no query"
    return seen


def _plan(session, statement: str, parameters: Any) -> str:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        raw = session.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
    else:
        raw = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return "\n".join(str(row[-1]) for row in raw)


@pytest.mark.parametrize("filters, index", [
    (SearchFilters(q="nguyen thi yen"), "ix_members_province_code_name_ascii"),
    (SearchFilters(personal_id="024194001234"), None),
    (SearchFilters(member_number="2400000001"), None),
])
def test_search_queries_use_an_index(session, filters: SearchFilters, index: str | None) -> None:
    """No search reads the whole members table (on an empty table the planner may pick any
    index for the exact lookups; the benchmark shows the plans on a million rows)."""
    for statement, parameters in _captured_queries(session, filters):
        plan = _plan(session, statement, parameters)
        assert "SCAN members\n" not in plan + "\n" and "Seq Scan on members" not in plan, plan
        assert "INDEX" in plan or "Index" in plan, plan
        if index:
            assert index in plan, plan
