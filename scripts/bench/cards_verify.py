"""Benchmark: raw ECDSA P-256 verify, pyjwt's ES256 decode and cards.verify side by side.

Run: .venv/bin/python scripts/bench/cards_verify.py [--seconds S] [--rounds R]

The offline verifier should be dominated by the signature check, so the script prints, in
one run on one machine, the rates of a raw P-256 verify (of a message as long as the card's
Sig_structure), of pyjwt's ``jwt.decode`` of an ES256 JWT carrying the same claims (the
peer: signature plus its own claim checks) and of ``cards.verify`` (which checks more: the
base45/zlib layers, the canonical COSE form and CBOR, every claim, the issuer, the status
lists and times), each as a ratio of the raw rate (targets: cards.verify >= 70 % of raw and
above pyjwt). Then the sign rates, and the UC1 text lengths of the reference card without
and with the emergency core.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jwt  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

import cards  # noqa: E402
import cards.cose  # noqa: E402
import cards.encoding  # noqa: E402
from cards import testing  # noqa: E402

ECDSA = ec.ECDSA(hashes.SHA256())


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of ``fn`` over roughly ``seconds`` of this process's CPU time
    (CPU time, not wall time: other processes on a shared machine then cost the rates far
    less, and all three are measured alike)."""
    n, batch, start = 0, 200, time.process_time()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return n / elapsed


def best_pair(a: Callable[[], object], b: Callable[[], object], seconds: float, rounds: int) -> tuple[float, float]:
    """Best rates of ``a`` and ``b`` over interleaved rounds (robust to machine noise)."""
    best_a, best_b = best_of((a, b), seconds, rounds)
    return best_a, best_b


def best_of(fns: tuple[Callable[[], object], ...], seconds: float, rounds: int) -> list[float]:
    """Best rate of each of ``fns`` over interleaved rounds (robust to machine noise)."""
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = max(best[i], rate(fn, seconds))
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (best kept)")
    args = parser.parse_args(argv)

    now = testing.REFERENCE_NOW
    key = testing.signing_key()
    bundle = testing.trust_bundle(now=now)
    plain = testing.reference_claims()
    health = testing.reference_claims(emergency=testing.REFERENCE_EMERGENCY)
    text_plain = cards.issue(plain, key, now=now)
    text_health = cards.issue(health, key, now=now)
    assert cards.verify(text_plain, bundle, now=now).valid
    assert cards.verify(text_health, bundle, now=now).valid

    print(f"UC1 text length, no health data:     {len(text_plain)} chars (QR 10-M holds 311)")
    print(f"UC1 text length, with emergency core: {len(text_health)} chars (QR 11-M holds 362)")

    # The raw baseline signs/verifies a message of the same size as the card's Sig_structure.
    message = b"\x00" * (len(cards.cose.decode(cards.encoding.decode_text(text_health)).to_be_signed()))
    public = key.public_key
    private = key.private_key
    signature = private.sign(message, ECDSA)

    for label, claims, text in (("no health data", plain, text_plain),
                                ("emergency core", health, text_health)):
        # the same claims, with the registered JWT names for issuer and times, so that pyjwt
        # checks what it can (signature, exp, iat)
        jwt_claims = {**claims.to_dict(), "iss": claims.issuer, "iat": claims.issued_at,
                      "exp": claims.expires_at}
        token = jwt.encode(jwt_claims, private, algorithm="ES256", headers={"kid": key.kid})
        at = int(now.timestamp())
        leeway = 300
        assert jwt.decode(token, public, algorithms=["ES256"], leeway=leeway)["serial"]
        raw, peer, ours = best_of(
            (
                lambda: public.verify(signature, message, ECDSA),
                lambda tok=token: jwt.decode(tok, public, algorithms=["ES256"], leeway=leeway,
                                             options={"verify_iat": True}),
                lambda t=text: cards.verify(t, bundle, now=at),
            ),
            args.seconds,
            args.rounds,
        )
        print(
            f"verify ({label}): raw P-256 {raw:8.0f}/s  pyjwt ES256 decode {peer:8.0f}/s "
            f"({peer / raw:6.1%})  cards.verify {ours:8.0f}/s ({ours / raw:6.1%})"
        )
    payload = health.to_cbor()
    for label, fn in (
        ("cose.sign ", lambda: cards.cose.sign(payload, key)),
        ("cards.issue", lambda: cards.issue(health, key, now=now)),
    ):
        raw, ours = best_pair(lambda: private.sign(message, ECDSA), fn, args.seconds, args.rounds)
        print(
            f"sign (emergency core): raw ECDSA {raw:9.0f}/s  {label} {ours:9.0f}/s  "
            f"ratio {ours / raw:6.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
