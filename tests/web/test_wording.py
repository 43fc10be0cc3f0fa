"""The services' words on the pages (``app.web.wording``): every problem type, every reason
code and every field message the pages can show has a sentence, translated into Vietnamese;
the pages show them in the page's language while the API keeps its English."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

import app as app_package
from app.edge.problems import CATALOGUE
from app.models.consent import PURPOSES
from app.services.clinic_flow.desk import EMERGENCY_REASONS
from app.services.errors import ActivationFailed, ValidationFailed
from app.services.health import consent
from app.services.issuing.issuance import REVOKE_REASONS, SUSPEND_REASONS
from app.web import wording
from tests.app.clinic_scene import scene  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401
from tests.web.test_console import csrf
from tests.web.test_portal import activate_page
from tests.web.test_scanner import desk, post_verify  # noqa: F401

ROOT = Path(app_package.__file__).parent.parent
CATALOG = ROOT / "app" / "web" / "translations" / "vi" / "LC_MESSAGES"
#: Where a reason code is written as ``reason="..."`` or ``default_reason = "..."``.
REASON_SOURCES = (ROOT / "cards", ROOT / "app" / "services")
#: Where field messages the pages show are made (member form, roster report, activation,
#: consents, the scanner); each call is FieldProblem/InvalidField(field, message),
#: ValidationFailed.field(field, message) or a policy's refuse(message).
MESSAGE_SOURCES = ("app/services/registry", "app/services/access", "app/services/clinic_flow",
                   "app/services/issuing", "app/web")
#: Audit actions of a member's history: every ``"member.…"``/``"card.…"``/… literal of the
#: services but these, which name files and encrypted columns, not actions.
NOT_ACTIONS = {"card.pdf", "card.png", "card.activation", "member.insurance_number",
               "member.personal_id"}
_ACTION = re.compile(r'"((?:member|card|health-record|transfer)\.[a-z_.-]+)"')
_REASON = re.compile(r'\b(?:default_)?reason\s*=\s*"([a-z][a-z0-9-]*)"')
_UC1_REASONS = re.compile(r"^\| `[a-z-]+` \| (.+) \|$", re.MULTILINE)


def reason_codes() -> set[str]:
    """Every reason code the services and the card library give, and the codes of the
    choices the pages offer (suspension, revocation, emergency) and of consent decisions."""
    found: set[str] = set()
    for root in REASON_SOURCES:
        for path in root.rglob("*.py"):
            found.update(_REASON.findall(path.read_text(encoding="utf-8")))
    spec = (ROOT / "docs" / "uc1.md").read_text(encoding="utf-8")
    for cell in _UC1_REASONS.findall(spec):
        found.update(re.findall(r"`([a-z0-9-]+)`", cell))
    found.update(("stale-trust-bundle", "status-list-missing"))  # the spec's warnings
    found.update(REVOKE_REASONS, SUSPEND_REASONS, EMERGENCY_REASONS)
    found.update(getattr(consent, name) for name in (
        "RELEASED", "NO_CONSENT", "WITHDRAWN", "EXPIRED", "NOT_YET_VALID",
        "GRANTEE_NOT_COVERED", "PURPOSE_NOT_COVERED"))
    return found


def _text(node: ast.expr, constants: dict[str, str]) -> str | None:
    """A message argument as text, each interpolated value as ``1`` (None when not literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "1" for v in node.values)
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left, constants), _text(node.right, constants)
        return None if left is None else left + (right if right is not None else "1")
    return None


def field_messages() -> dict[str, str]:
    """Every literal field message made in ``MESSAGE_SOURCES`` -> where it is made."""
    found: dict[str, str] = {}
    for source in MESSAGE_SOURCES:
        for path in (ROOT / source).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants = {t.id: text for node in tree.body if isinstance(node, ast.Assign)
                         for t in node.targets if isinstance(t, ast.Name)
                         if (text := _text(node.value, {})) is not None}
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("FieldProblem", "InvalidField") or (
                        name == "field" and isinstance(func, ast.Attribute)
                        and getattr(func.value, "id", "") == "ValidationFailed"):
                    argument = node.args[1] if len(node.args) > 1 else None
                elif name == "refuse" and len(node.args) == 1:
                    argument = node.args[0]
                else:
                    continue
                text = None if argument is None else _text(argument, constants)
                if text is not None:
                    found.setdefault(text, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def vietnamese() -> dict[str, str]:
    with open(CATALOG / "messages.po", "rb") as po_file:
        po = read_po(po_file)
    with open(CATALOG / "messages.mo", "rb") as mo_file:
        compiled = {m.id: m.string for m in read_mo(mo_file) if m.id}
    return {m.id: m.string for m in po
            if m.id and m.string and not m.fuzzy and compiled.get(m.id) == m.string}


def test_every_problem_type_has_a_sentence() -> None:
    assert sorted(wording.PROBLEMS) == sorted(p.slug for p in CATALOGUE)


def test_every_reason_code_has_a_sentence() -> None:
    codes = reason_codes()
    assert len(codes) > 60 and {"bad-signature", "no-code-found", "no-consent"} <= codes
    assert sorted(codes - set(wording.REASONS)) == []


def test_every_audit_action_of_a_members_history_has_words() -> None:
    actions = {a for path in (ROOT / "app" / "services").rglob("*.py")
               for a in _ACTION.findall(path.read_text(encoding="utf-8"))} - NOT_ACTIONS
    assert len(actions) > 20 and "card.suspend" in actions
    assert sorted(actions - set(wording.ACTIONS)) == []


def test_every_field_message_has_a_template() -> None:
    messages = field_messages()
    assert len(messages) > 40 and "The PIN must not be one digit repeated." in messages
    missing = {m: where for m, where in messages.items() if wording.template_of(m) is None}
    assert missing == {}


def test_every_sentence_has_vietnamese_text() -> None:
    translated = vietnamese()
    sentences = {*wording.PROBLEMS.values(), *wording.REASONS.values(), *wording.MESSAGES,
                 *wording.WORDS.values(), *wording.ACTIONS.values()}
    assert sorted(sentences - set(translated)) == []
    for template in wording.MESSAGES:  # the same places in both languages
        assert sorted(re.findall(r"%\(\w+\)s", template)) == sorted(
            re.findall(r"%\(\w+\)s", translated[template])), template


def test_sentences_in_each_language(app: Flask) -> None:
    with app.test_request_context():
        assert wording.message("The member must be at least 15 (age 3).") == (
            "Đoàn viên phải từ 15 tuổi trở lên (tuổi 3).")
        assert wording.message("Digit 4 of the personal ID is 3 but a woman born in 1990 "
                               "needs 1.") == ("Chữ số thứ 4 của số CCCD là 3 nhưng người nữ "
                                               "sinh năm 1990 phải là 1.")
        assert wording.message("Something new.") == "Something new."  # never lost
        assert wording.reason("bad-signature").startswith("Chữ ký của thẻ không khớp")
        assert wording.reason("no-such-code") == "no-such-code" and wording.reason(None) == ""
        assert wording.problem(ActivationFailed("wrong")) == (
            "Số thẻ đoàn viên, mã kích hoạt hoặc ngày sinh không đúng.")
        invalid = ValidationFailed.field("pin", "The PIN must not be one digit repeated.")
        assert wording.field_errors(invalid.errors) == [
            {"field": "pin", "message": "Mã PIN không được là một chữ số lặp lại."}]
    with app.test_request_context():
        from flask import session
        session["lang"] = "en"
        assert wording.message("The member must be at least 15 (age 3).") == (
            "The member must be at least 15 (age 3).")
        assert wording.reason("wrong-pin") == "The PIN is wrong."


def english(client: FlaskClient, page: str) -> None:
    client.post("/console/language", data={"csrf_token": csrf(client, page), "lang": "en",
                                           "next": page})


def test_a_refused_activation_speaks_the_pages_language(
        client: FlaskClient, yen: dict[str, Any]) -> None:  # noqa: F811
    wrong = activate_page(client, yen["member"], yen["code"], birth=date(1990, 1, 1))
    html = wrong.get_data(as_text=True)
    assert "Số thẻ đoàn viên, mã kích hoạt hoặc ngày sinh không đúng." in html
    weak = activate_page(client, yen["member"], yen["code"], pin="111111").get_data(
        as_text=True)
    assert "Mã PIN không được là một chữ số lặp lại." in weak and "digit repeated" not in weak
    english(client, "/me/activate")
    weak = activate_page(client, yen["member"], yen["code"], pin="111111").get_data(
        as_text=True)
    assert "The PIN must not be one digit repeated." in weak


def test_the_scanners_verdict_and_refusals_speak_the_pages_language(
        client: FlaskClient, desk: dict[str, Any]) -> None:  # noqa: F811
    text = desk["text"]
    forged = text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:]
    html = post_verify(client, uc1=forged).get_data(as_text=True)
    assert re.search(r'data-status="(invalid|unknown-issuer)"', html) or 'role="alert"' in html
    assert not re.search(r"\b(bad-[a-z-]+|kid-mismatch|unknown-kid)\b", html.split("<main")[1])
    garbage = post_verify(client, uc1="not a card at all").get_data(as_text=True)
    assert "Mã này không phải thẻ đoàn viên" in garbage or "Đây không phải" in garbage
    wrong_pin = post_verify(client, uc1=text, pin="999111").get_data(as_text=True)
    assert "Mã PIN không đúng." in wrong_pin and "The PIN is wrong." not in wrong_pin
    bad_purpose = post_verify(client, uc1=text, purpose="curiosity").get_data(as_text=True)
    assert "Một trong: " + ", ".join(PURPOSES) in bad_purpose
    english(client, "/clinic/")
    wrong_pin = post_verify(client, uc1=text, pin="999111").get_data(as_text=True)
    assert "The PIN is wrong." in wrong_pin


@pytest.mark.parametrize("code", sorted(EMERGENCY_REASONS))
def test_emergency_reasons_read_as_the_service_words_them(code: str) -> None:
    assert wording.REASONS[code] == EMERGENCY_REASONS[code]
