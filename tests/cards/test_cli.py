"""The offline verifier CLI: statuses, exit codes, JSON output, images and bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import cards
from cards import testing
from cards.__main__ import main

NOW = "2025-11-01T08:00:00Z"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    trust = tmp_path / "bundle.jws"
    trust.write_text(testing.bundle_text())
    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(testing.root_public_jwk()))
    return {"trust": str(trust), "root": str(root)}


@pytest.fixture(scope="module")
def card() -> str:
    return cards.issue(testing.reference_claims(), testing.signing_key(), now=testing.REFERENCE_NOW)


def run(files: dict[str, str], *extra: str) -> list[str]:
    return ["verify", "--trust", files["trust"], "--root", files["root"], "--at", NOW, *extra]


def test_valid_card_exits_zero(files: dict[str, str], card: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(run(files, "--text", card)) == 0
    out = capsys.readouterr().out
    assert "status: valid" in out and "name: Nguyễn Thị Kim Yến" in out


def test_json_output(files: dict[str, str], card: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(run(files, "--text", card, "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "valid" and result["claims"]["serial"] == "K5Q2M7XRT4HZ3WBA"


def test_not_valid_exits_one(files: dict[str, str], card: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(run(files, "--text", "UC1:garbage")) == 1
    assert "reason: bad-base45" in capsys.readouterr().out
    later = ["verify", "--trust", files["trust"], "--root", files["root"], "--at", "2031-01-01T00:00:00Z"]
    assert main([*later, "--text", card]) == 1
    out = capsys.readouterr().out
    assert "status: expired" in out and "warning: stale-trust-bundle" in out


@pytest.mark.parametrize(
    "change",
    [
        {"trust": "/nonexistent/bundle"},
        {"root": "/nonexistent/root"},
    ],
)
def test_missing_files_exit_two(
    files: dict[str, str], card: str, change: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(run({**files, **change}, "--text", card)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read") and err.count("\n") == 1


def test_tampered_bundle_exits_three(files: dict[str, str], card: str, capsys: pytest.CaptureFixture[str]) -> None:
    Path(files["trust"]).write_text(testing.bundle_text()[:-4] + "AAAA")
    assert main(run(files, "--text", card)) == 3
    assert "trust bundle rejected (bad-bundle-signature)" in capsys.readouterr().err


def test_a_past_time_can_show_not_yet_valid(files: dict[str, str], card: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (issue 14): the bundle was checked at --at, so a past --at refused it as
    from the future and not-yet-valid could never be shown."""
    before = ["verify", "--trust", files["trust"], "--root", files["root"], "--at", "2025-10-31T00:00:00Z"]
    assert main([*before, "--text", card]) == 1
    assert "status: not-yet-valid" in capsys.readouterr().out


def test_rollback_is_refused_by_min_version_and_by_the_state_file(
    files: dict[str, str], card: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression (issue 14): the command kept no state and accepted an older bundle."""
    newer, older = tmp_path / "v7.jws", tmp_path / "v6.jws"
    newer.write_text(testing.bundle_text(version=7))
    older.write_text(testing.bundle_text(version=6))
    state = tmp_path / "scanner-state.json"
    with_state = ["--state", str(state), "--text", card]
    assert main(run({**files, "trust": str(newer)}, *with_state)) == 0
    assert json.loads(state.read_text())["version"] == 7
    capsys.readouterr()
    assert main(run({**files, "trust": str(older)}, *with_state)) == 3
    assert "bundle-rollback" in capsys.readouterr().err
    assert json.loads(state.read_text())["version"] == 7  # a refused bundle changes nothing
    assert main(run({**files, "trust": str(older)}, "--min-version", "7", "--text", card)) == 3
    assert main(run({**files, "trust": str(older)}, "--min-version", "6", "--text", card)) == 0
    state.write_text("garbage")
    assert main(run({**files, "trust": str(newer)}, *with_state)) == 2


def test_the_text_is_checked_exactly(files: dict[str, str], card: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (issue 14): the command stripped whitespace the spec calls bad-prefix; a
    space is a base45 digit, so trimming could also change a card. Only --text-file drops
    the one line end a file or a keyboard-wedge scanner adds."""
    assert main(run(files, "--text", " " + card)) == 1
    assert "reason: bad-prefix" in capsys.readouterr().out
    assert main(run(files, "--text", card + "\n")) == 1
    assert "reason: bad-base45" in capsys.readouterr().out
    for ending in ("\n", "\r\n", ""):
        path = tmp_path / "card.txt"
        path.write_bytes((card + ending).encode("ascii"))
        assert main(run(files, "--text-file", str(path))) == 0, repr(ending)
    path.write_bytes((card + "\n\n").encode("ascii"))
    assert main(run(files, "--text-file", str(path))) == 1


def test_bad_time_and_usage(files: dict[str, str], card: str) -> None:
    assert main(["verify", "--trust", files["trust"], "--root", files["root"], "--at", "yesterday", "--text", card]) == 2
    assert main(["verify", "--trust", files["trust"], "--root", files["root"], "--at", "2025-11-01T08:00", "--text", card]) == 2
    with pytest.raises(SystemExit) as info:
        main(["verify", "--trust", files["trust"], "--root", files["root"]])
    assert info.value.code == 2


def test_image_input(files: dict[str, str], card: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("zxingcpp")
    import segno

    png = tmp_path / "card.png"
    segno.make_qr(card, error="m").save(str(png), scale=6)
    assert main(run(files, "--image", str(png))) == 0
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (50, 50), "white").save(blank)
    assert main(run(files, "--image", str(blank))) == 4
    assert "no QR code" in capsys.readouterr().err
    notimage = tmp_path / "x.png"
    notimage.write_text("hello")
    assert main(run(files, "--image", str(notimage))) == 2


@pytest.mark.slow
def test_module_entry_point(files: dict[str, str], card: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cards", *run(files, "--text", card)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "status: valid" in done.stdout
