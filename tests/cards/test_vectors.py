"""docs/vectors/: the conformance vectors are what scripts/vectors.py makes, cover every step
and reason code, and both ``cards.verify`` and ``python -m cards verify`` meet every case."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import cards
from cards.__main__ import EXIT_BUNDLE, EXIT_NOT_VALID, EXIT_VALID, main
from cards.errors import TrustError

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "docs" / "vectors"
DOCUMENT = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DOCUMENT["cases"]
#: §7's reason codes, and the trust-bundle refusals of §5.
CARD_REASONS = {
    "ok", "expired", "not-yet-valid", "revoked", "key-compromise", "suspended", "unknown-kid",
    "too-long", "bad-prefix", "bad-base45", "bad-zlib", "too-large-decompressed", "bad-cose",
    "bad-header", "bad-kid", "unsupported-alg", "bad-signature-length", "bad-signature",
    "bad-cbor", "bad-claims", "bad-version", "non-canonical", "issuer-mismatch",
    "bad-status-index"}
BUNDLE_REASONS = {"bad-bundle", "bad-bundle-signature", "bundle-from-future", "bundle-rollback",
                  "bad-root-key"}


def _at(case: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(case["time"].replace("Z", "+00:00"))


def _file(case: dict[str, Any], name: str) -> str:
    return (VECTORS / case[name]).read_text(encoding="utf-8")


def test_the_committed_vectors_are_what_the_script_generates() -> None:
    build = runpy.run_path(str(ROOT / "scripts" / "vectors.py"))["build"]
    files = build()
    on_disk = {p.relative_to(VECTORS).as_posix() for p in VECTORS.rglob("*")
               if p.is_file() and p.name != "README.md"}
    assert on_disk == set(files)
    for path, data in files.items():
        assert (VECTORS / path).read_bytes() == data, f"regenerate: {path} differs"


def test_the_vectors_cover_every_step_and_reason() -> None:
    assert DOCUMENT["count"] == len(CASES) >= 200
    assert len({c["id"] for c in CASES}) == len(CASES)
    reasons = {c["expected"].get("reason") or c["expected"]["bundle_rejected"] for c in CASES}
    assert CARD_REASONS | BUNDLE_REASONS <= reasons
    assert reasons <= CARD_REASONS | BUNDLE_REASONS
    steps = {c["step"] for c in CASES}
    assert {str(n) for n in range(1, 13)} | {"bundle"} == steps
    warnings = {w for c in CASES for w in c["expected"].get("warnings", ())}
    assert warnings == {"stale-trust-bundle", "status-list-missing"}
    readme = (VECTORS / "README.md").read_text(encoding="utf-8")
    assert "python scripts/vectors.py" in readme and str(len(CASES)) in readme


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_cards_verify_meets_the_case(case: dict[str, Any]) -> None:
    expected = case["expected"]
    try:
        # the scanner loads the bundle now, with its real clock; the card is checked at "time"
        bundle = cards.load_bundle(_file(case, "trust_bundle"), _file(case, "root_key"),
                                   now=datetime.now(timezone.utc),
                                   min_version=case.get("min_version"))
    except TrustError as e:
        assert e.reason == expected.get("bundle_rejected"), e
        return
    assert "bundle_rejected" not in expected, "the bundle was accepted"
    result = cards.verify(case["text"], bundle, now=_at(case)).to_dict()
    assert (result["status"], result["reason"]) == (expected["status"], expected["reason"])
    assert sorted(result["warnings"]) == expected["warnings"]
    assert result["claims"] == expected["claims"]


def _command(case: dict[str, Any]) -> list[str]:
    argv = ["verify", "--text", case["text"], "--trust", str(VECTORS / case["trust_bundle"]),
            "--root", str(VECTORS / case["root_key"]), "--at", case["time"], "--json"]
    if "min_version" in case:
        argv += ["--min-version", str(case["min_version"])]
    return argv


def _check_command(case: dict[str, Any], status: int, out: str, err: str) -> None:
    expected = case["expected"]
    if "bundle_rejected" in expected:
        assert status == EXIT_BUNDLE and f"({expected['bundle_rejected']})" in err, err
        return
    assert status == (EXIT_VALID if expected["status"] == "valid" else EXIT_NOT_VALID), err
    result = json.loads(out)
    assert (result["status"], result["reason"]) == (expected["status"], expected["reason"])
    assert sorted(result["warnings"]) == expected["warnings"]
    assert result["claims"] == expected["claims"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_command_meets_the_case(case: dict[str, Any],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    status = main(_command(case))
    captured = capsys.readouterr()
    _check_command(case, status, captured.out, captured.err)


@pytest.mark.slow
def test_the_command_as_a_process_meets_sample_cases() -> None:
    """One process per case is slow, so a sample: one case of each step."""
    sample = {c["step"]: c for c in CASES}.values()
    for case in sample:
        done = subprocess.run([sys.executable, "-m", "cards", *_command(case)],
                              capture_output=True, text=True, check=False, cwd=ROOT)
        _check_command(case, done.returncode, done.stdout, done.stderr)


#: Issue 14's findings, each pinned by a named vector (the parametrized runs above check them
#: against cards.verify and the command).
FINDINGS = {
    # item 3: reason codes as the spec reads them
    "bad-kid-kid-text": "bad-kid",
    "bad-claims-birth-tag-100": "bad-claims",
    "bad-header-duplicate-key": "bad-header",
    "bad-claims-duplicate-key": "bad-claims",
    # item 4: ambiguities settled
    "bad-header-keys-reordered": "bad-header",
    "valid-high-s": "ok",
    "untagged": "bad-cose",
    "cwt-tag-61": "bad-cose",
    "payload-length-long-form": "bad-cose",
    "bad-claims-name-nbsp": "bad-claims",
    "valid-birth-on-vietnam-issue-date": "ok",
    "unsupported-alg-alg-missing": "unsupported-alg",
    "unsupported-alg-alg-only-unprotected": "unsupported-alg",
    "bad-header-missing-kid": "bad-header",
    "bad-bundle-key-unknown-member": "bad-bundle",
    # item 5: the command
    "bad-prefix-leading-space": "bad-prefix",
    "bad-base45-trailing-newline": "bad-base45",
    "not-yet-valid": "not-yet-valid",
    "rollback": "bundle-rollback",
}


def test_each_finding_of_issue_14_has_its_vector() -> None:
    by_id = {c["id"]: c["expected"] for c in CASES}
    for case_id, reason in FINDINGS.items():
        expected = by_id[case_id]
        assert expected.get("reason", expected.get("bundle_rejected")) == reason, case_id


def test_the_decompression_bound_is_the_only_one_reachable() -> None:
    """Item 4: 16,384 bytes cannot be reached without zlib: 4096 characters of text leave at
    most 4092 base45 characters, 2728 bytes."""
    from cards.encoding import MAX_DECOMPRESSED_BYTES, MAX_TEXT_CHARS, PREFIX, b45decode

    longest = (MAX_TEXT_CHARS - len(PREFIX)) // 3 * 3
    assert len(b45decode("0" * longest)) == 2728 < MAX_DECOMPRESSED_BYTES


def test_issuers_emit_low_s() -> None:
    """Item 4: the canonical signature form; verifiers still accept high S (valid-high-s)."""
    from cards import testing
    from cards.cose import P256_ORDER
    from cards.encoding import decode_text

    for _ in range(16):
        text = cards.issue(testing.reference_claims(), testing.signing_key(),
                           now=testing.REFERENCE_NOW)
        s = int.from_bytes(decode_text(text)[-32:], "big")
        assert s <= P256_ORDER // 2
