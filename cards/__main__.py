"""Offline verifier: ``python -m cards verify (--text T | --image PNG) --trust B --root JWK``.

Exit status: 0 valid, 1 any other card status, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from cards.errors import CardError
from cards.scan import ScanError, read_qr_image
from cards.trust import load_bundle
from cards.verify import Verification, verify

EXIT_VALID, EXIT_NOT_VALID, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad argument or unreadable file: reported on one line, exit status 2."""


def _read_text_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise UsageError(f"cannot read {what} {path}: {reason}") from e


def _parse_time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise UsageError(f"--at is not an ISO-8601 time: {value}") from e
    if moment.tzinfo is None:
        raise UsageError("--at needs a time zone, e.g. 2025-11-01T08:00:00Z")
    return moment


def _text_from_image(path: str) -> str:
    try:
        return read_qr_image(path)
    except ScanError as e:
        raise UsageError(str(e)) from e


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
    text = args.text if args.text is not None else _text_from_image(args.image)
    root = _read_text_file(args.root, "root key")
    bundle_text = _read_text_file(args.trust, "trust bundle")
    try:
        bundle = load_bundle(bundle_text, root, now=now)
    except CardError as e:
        raise UsageError(f"trust bundle rejected ({e.reason}): {e}") from e
    result = verify(text.strip(), bundle, now=now)
    _print(result, args.json)
    return EXIT_VALID if result.valid else EXIT_NOT_VALID


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m cards", description="UC1 card tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="verify a card offline against a trust bundle")
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the UC1:... card text")
    source.add_argument("--image", help="a PNG/JPEG photo or scan of the card's QR code")
    check.add_argument("--trust", required=True, help="trust bundle file (compact JWS)")
    check.add_argument("--root", required=True, help="pinned root public key file (JWK JSON)")
    check.add_argument("--at", help="verify at this ISO-8601 time instead of now")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _verify(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
