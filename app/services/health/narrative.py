"""Generated narratives of the summary's FHIR document: one XHTML table per Composition section
listing that section's entries (what IPS sections show), in the FHIR narrative subset (a
``div`` in the XHTML namespace holding only ``table``, ``thead``, ``tbody``, ``tr``, ``th``,
``td``, ``p`` and ``br``, no attribute) with every text escaped. Pure functions of the summary's
entries: the caller passes only the entries it releases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from app.services.health import summary as s

XHTML_NS = "http://www.w3.org/1999/xhtml"
#: The elements the narratives use (all in FHIR's narrative subset, R4 txt-1).
ELEMENTS = frozenset({"div", "p", "table", "thead", "tbody", "tr", "th", "td", "br"})

_STATUS = {"active": "đang có", "inactive": "không còn", "resolved": "đã khỏi",
           "remission": "thuyên giảm", "recurrence": "tái phát", "relapse": "tái phát",
           "confirmed": "đã xác nhận", "unconfirmed": "chưa xác nhận",
           "provisional": "tạm thời", "differential": "chẩn đoán phân biệt",
           "refuted": "đã loại trừ", "completed": "đã tiêm", "not-done": "không tiêm",
           "stopped": "đã ngừng", "on-hold": "tạm ngừng", "intended": "dự định",
           "not-taken": "không dùng", "unknown": "không rõ", "entered-in-error": "nhập nhầm"}
_CRITICALITY = {"high": "cao", "low": "thấp", "unable-to-assess": "không đánh giá được"}


def _cell(text: str | None) -> str:
    return escape(text or "", quote=True)


def _concept_text(codes: Sequence[s.Code], text: str = "") -> str:
    if text:
        return text
    return ", ".join(c.text or f"{c.code}" for c in codes)


def _qualifier(concept: s.Concept) -> str:
    return _concept_text(concept.codes, concept.text)


def _status(code: str) -> str:
    return _STATUS.get(code, code)


def _table(head: Sequence[str], rows: Iterable[Sequence[str | None]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    if not body:
        return ""
    heads = "".join(f"<th>{_cell(h)}</th>" for h in head)
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _value(m: s.Measurement | s.Component) -> str:
    if isinstance(m, s.Component):
        if m.value is not None:
            return m.value.label()
        return _concept_text(m.value_codes, m.value_text)
    q = m.quantity
    if q is not None:
        return q.label()
    if m.value_low is not None or m.value_high is not None:
        return s.ReferenceRange(m.value_low, m.value_high).label()
    return _concept_text(m.value_codes, m.value_text) or _qualifier(m.absent_reason)


def _result(m: s.Measurement) -> str:
    parts = [_value(m)] if _value(m) else []
    parts.extend(f"{_concept_text(c.codes, c.text)}: {_value(c)}" for c in m.components)
    if m.members:
        parts.append(f"{len(m.members)} kết quả thành phần")
    return "; ".join(parts)


def allergies(items: Iterable[s.Allergy]) -> str:
    """The allergies' table."""
    return _table(("Chất gây dị ứng", "Mức độ nguy hiểm", "Tình trạng", "Xác minh", "Phản ứng",
                   "Khởi phát", "Ngày ghi nhận"),
                  ((_concept_text(a.codes, a.text), _CRITICALITY.get(a.criticality or "", ""),
                    _status(a.clinical_status or "active"), _status(a.verification_status),
                    "; ".join(x for x in (a.reaction, a.reaction_severity) if x), a.onset,
                    a.date) for a in items))


def conditions(items: Iterable[s.Condition]) -> str:
    """The conditions' table."""
    return _table(("Bệnh", "Mức độ", "Tình trạng", "Xác minh", "Khởi phát", "Kết thúc",
                   "Ngày ghi nhận", "Ghi chú"),
                  ((_concept_text(c.codes, c.text),
                    _qualifier(c.severity) or ("nặng" if c.critical else ""),
                    _status(c.clinical_status), _status(c.verification_status), c.onset,
                    c.abatement, c.date, c.note) for c in items))


def medications(items: Iterable[s.Medication]) -> str:
    """The medications' table."""
    return _table(("Thuốc", "Liều dùng", "Tình trạng", "Ngày"),
                  ((_concept_text(m.codes, m.text), m.dose, _status(m.status),
                    " – ".join(x for x in (m.date, m.end) if x)) for m in items))


def immunizations(items: Iterable[s.Immunization]) -> str:
    """The immunisations' table."""
    return _table(("Vắc xin", "Ngày", "Mũi", "Số lô", "Vị trí", "Đường tiêm", "Tình trạng"),
                  ((_concept_text(i.codes, i.text), i.date, i.dose_number, i.lot_number,
                    _qualifier(i.site), _qualifier(i.route), _status(i.status))
                   for i in items))


def results(items: Iterable[s.Measurement]) -> str:
    """The results' (or vital signs') table."""
    return _table(("Chỉ số", "Kết quả", "Đánh giá", "Khoảng tham chiếu", "Ngày", "Ghi chú"),
                  ((_concept_text(m.codes, m.text), _result(m),
                    ", ".join(_qualifier(c) for c in m.interpretation),
                    "; ".join(r.label() for r in m.reference_ranges), m.date, m.note)
                   for m in items))


def contacts(items: Iterable[s.EmergencyContact]) -> str:
    """The emergency contacts' table."""
    return _table(("Người liên hệ", "Quan hệ", "Điện thoại"),
                  ((c.name, c.relationship, c.phone) for c in items))


def exams(items: Iterable[s.OccExam], *, detail: bool) -> str:
    """The occupational exams' table (with hazards, findings and measurements when
    ``detail``)."""
    head = ["Loại khám", "Ngày", "Cơ sở", "Phân loại sức khỏe", "Kết luận"]
    if detail:
        head += ["Yếu tố có hại", "Phát hiện", "Chỉ số"]
    rows = []
    for e in items:
        row = [_concept_text(e.codes, e.text) or e.exam_type, e.date, e.source.name,
               e.health_class, e.fitness_text or e.fitness]
        if detail:
            row += ["; ".join(h.text or h.code for h in e.hazards),
                    "; ".join(f.text or f.code for f in e.findings),
                    "; ".join(f"{_concept_text(m.codes, m.text)}: {_result(m)}"
                              for m in e.measurements)]
        rows.append(row)
    return _table(head, rows)


def div(title: str, *tables: str) -> str:
    """The section's narrative: its title and tables (or a line saying it holds nothing)."""
    body = "".join(t for t in tables if t) or "<p>Không có thông tin.</p>"
    return f'<div xmlns="{XHTML_NS}"><p>{_cell(title)}</p>{body}</div>'
