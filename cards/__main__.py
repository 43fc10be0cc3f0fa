"""Offline verifier: ``python -m cards verify (--text T | --text-file F | --image PNG)
--trust BUNDLE --root JWK [--at TIME] [--state FILE | --min-version N] [--json]``.

Exit status: 0 the card is valid; 1 the card was checked and is not valid (any other status);
2 usage error (bad arguments, unreadable file); 3 the trust bundle or root key was rejected
(signature, format, from the future, rollback); 4 no card found in the image.

The card text is checked exactly as given (docs/uc1.md §1: a leading or trailing space is
part of it, space being a base45 digit); ``--text-file`` drops only the one line end a file,
a terminal or a keyboard-wedge scanner adds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from cards.errors import CardError
from cards.scan import ScanError, read_qr_image
from cards.trust import TrustBundle, load_bundle
from cards.verify import Verification, verify

EXIT_VALID, EXIT_NOT_VALID, EXIT_USAGE, EXIT_BUNDLE, EXIT_NO_CARD = 0, 1, 2, 3, 4
EXIT_CODES = """\
exit status: 0 valid; 1 checked, not valid; 2 usage error or unreadable file;
3 trust bundle or root key rejected (incl. a rollback below --min-version or the --state
file's version); 4 no QR code found in the image"""


class CommandError(Exception):
    """Reported on one line; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def _read_text_file(path: str, what: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise CommandError(f"cannot read {what} {path}: {reason}") from e


def _one_line(text: str) -> str:
    """The text without the one line end (LF or CR LF) a line-oriented source adds."""
    for end in ("\r\n", "\n"):
        if text.endswith(end):
            return text[: -len(end)]
    return text


def _parse_time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise CommandError(f"--at is not an ISO-8601 time: {value}") from e
    if moment.tzinfo is None:
        raise CommandError("--at needs a time zone, e.g. 2025-11-01T08:00:00Z")
    return moment


def _card_text(args: argparse.Namespace) -> str:
    if args.text is not None:
        return str(args.text)
    if args.text_file is not None:
        return _one_line(_read_text_file(args.text_file, "card text"))
    try:
        return read_qr_image(args.image)
    except ScanError as e:
        status = EXIT_NO_CARD if "no QR code" in str(e) else EXIT_USAGE
        raise CommandError(str(e), status) from e


def _state_version(path: str | None) -> int | None:
    """The highest bundle version the state file recorded (None: no file yet)."""
    if path is None or not os.path.exists(path):
        return None
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
        version = state["version"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CommandError(f"cannot read state file {path}: not {{\"version\": N}}") from e
    if isinstance(version, bool) or not isinstance(version, int):
        raise CommandError(f"cannot read state file {path}: not {{\"version\": N}}")
    return version


def _save_state(path: str, bundle: TrustBundle) -> None:
    """Record the accepted bundle's version (atomically: a crash never loses the floor)."""
    temporary = f"{path}.tmp"
    try:
        Path(temporary).write_text(json.dumps({"version": bundle.version,
                                               "iat": bundle.issued_at}) + "\n",
                                   encoding="utf-8")
        os.replace(temporary, path)
    except OSError as e:
        raise CommandError(f"cannot write state file {path}: {e.strerror or e}") from e


def _load_trust(args: argparse.Namespace) -> TrustBundle:
    root = _read_text_file(args.root, "root key")
    bundle_text = _read_text_file(args.trust, "trust bundle")
    floors = [v for v in (args.min_version, _state_version(args.state)) if v is not None]
    try:
        # The bundle is checked against the real clock (it was loaded now), --at only moves
        # the card check: a past --at can then still show not-yet-valid.
        bundle = load_bundle(bundle_text, root, now=datetime.now(timezone.utc),
                             min_version=max(floors) if floors else None)
    except CardError as e:
        raise CommandError(f"trust bundle rejected ({e.reason}): {e}", EXIT_BUNDLE) from e
    if args.state is not None:
        _save_state(args.state, bundle)
    return bundle


def _print(result: Verification, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    print(f"status: {result.status}")
    print(f"reason: {result.reason}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    if result.claims is not None:
        for name, value in result.claims.to_dict().items():
            print(f"{name}: {value}")


def _verify(args: argparse.Namespace) -> int:
    now = _parse_time(args.at)
    text = _card_text(args)
    bundle = _load_trust(args)
    result = verify(text, bundle, now=now)
    _print(result, args.json)
    return EXIT_VALID if result.valid else EXIT_NOT_VALID


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m cards", description="UC1 card tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="verify a card offline against a trust bundle",
                                epilog=EXIT_CODES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the UC1:... card text, exactly (nothing is trimmed)")
    source.add_argument("--text-file", metavar="FILE",
                        help="a file ('-': standard input) holding the card text; one "
                             "trailing line end is dropped, nothing else")
    source.add_argument("--image", help="a PNG/JPEG photo or scan of the card's QR code")
    check.add_argument("--trust", required=True, help="trust bundle file (compact JWS)")
    check.add_argument("--root", required=True, help="pinned root public key file (JWK JSON)")
    check.add_argument("--at", help="verify the card at this ISO-8601 time instead of now "
                                    "(the bundle is still checked against the clock)")
    check.add_argument("--min-version", type=int, metavar="N",
                       help="refuse a trust bundle older than version N (rollback)")
    check.add_argument("--state", metavar="FILE",
                       help="keep the highest accepted bundle version in FILE and refuse "
                            "older bundles later (rollback protection across runs)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _verify(args)
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.status


if __name__ == "__main__":
    raise SystemExit(main())
