"""Committed test keys, the reference card and trust-bundle helpers. NEVER use in production.

The keys below are public (they are in the repository and in docs/uc1.md); they exist so tests,
the benchmark and the specification's worked examples are reproducible.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timezone
from typing import Any

from cards.claims import CardClaims, EmergencyCore
from cards.keys import SigningKey, VerificationKey, load_signing_key
from cards.status import StatusList
from cards.timeutil import Instant, epoch_seconds
from cards.trust import TrustBundle, build_bundle, load_bundle

TEST_PASSPHRASE = "unioncard-test-only"
TEST_ISSUER = "VN-VGCL-79"
#: The fixed clock of the reference card and the worked examples.
REFERENCE_NOW = datetime(2025, 11, 1, 8, 0, tzinfo=timezone.utc)
_CREATED = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp())

TEST_SIGNING_KEY_PEM = """\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIH0MF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBAEQwJHBZuhSPrb6FwA
aedRAgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQ7CLbkbMItSbOnmJj
jk8R4QSBkO/ZtBmSL6qefY7uXPZA0f9oMHPjb0n4RdQC8mvTMoaKADChoAYll5Ob
3cusaS1d28QgwWUfx6GLTcBTi2KMQ4HrYYtF0tOKKVPh8+TK+VIs8qQeeDn3xjcY
LebCmx5IuVibnD4ywuSdYxrAnPFOKbmPI/tclMk6uJCPI1QD87hhhzcHLO3YhIRm
p7rYlDSczg==
-----END ENCRYPTED PRIVATE KEY-----
"""

TEST_ROOT_KEY_PEM = """\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIH0MF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBDHr3CvfykGMb/fq8wT
pnkNAgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQJytVthNqVe5PIKfq
0k6ddgSBkDVB5dDEcrIQU79knnAGwO4qr4WadBbokdMOIw7KlD+MkXrts+BON0r+
IGdkH/5MZs0pz3FlAkvGMY/tkrb2M5dnVrWUk9tu950DkcmHcfEpNSdxu8xtw656
BhcGpcNbkRDGgtUXGRPgm/4IdjyCTbnIkfYxEhnuxTycwCf1EVshwV71M4RRg9u7
U06XtQ3UwQ==
-----END ENCRYPTED PRIVATE KEY-----
"""

#: A second issuer key, e.g. for "other issuer" and rotation tests.
TEST_OTHER_KEY_PEM = """\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIH0MF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBAu4OO7VjsHSipZzzHm
xplGAgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQkGXTMrLB+uNqgWb9
cFsd6gSBkEOvFyx+GhHVmPlI1m/QGEbWpBcC5X/NtZD8l7YV6xBAcMxl0ybyRuU7
eiPACtLcpWWfn/zEGMnxzSn+uLDR/agEJGlkU/9ThM28ESWem6m+ELPIPBnpPQZm
Va6f/DiYFdF1IrhDsm23r6VhrnMirpjntYQ+iIodTffZ6uWicVNVzZeck3I3ZZFj
jZLAmRy92Q==
-----END ENCRYPTED PRIVATE KEY-----
"""

REFERENCE_EMERGENCY = EmergencyCore(
    blood_group="O+", allergies=("Penicillin", "Đậu phộng"), conditions=("E11",)
)


@functools.cache
def signing_key(issuer: str = TEST_ISSUER) -> SigningKey:
    """The committed test signing key (issuer ``VN-VGCL-79`` unless told otherwise)."""
    return load_signing_key(
        TEST_SIGNING_KEY_PEM, TEST_PASSPHRASE, issuer=issuer, created_at=_CREATED
    )


@functools.cache
def other_signing_key(issuer: str = TEST_ISSUER) -> SigningKey:
    """A second committed test signing key."""
    return load_signing_key(TEST_OTHER_KEY_PEM, TEST_PASSPHRASE, issuer=issuer, created_at=_CREATED)


@functools.cache
def root_key() -> SigningKey:
    """The committed test root key that signs test trust bundles."""
    return load_signing_key(TEST_ROOT_KEY_PEM, TEST_PASSPHRASE, issuer="ROOT", created_at=_CREATED)


def root_public_jwk() -> dict[str, str]:
    """The public JWK of the test root key (what scanners pin)."""
    return root_key().public_jwk()


def reference_claims(**changes: Any) -> CardClaims:
    """The reference card of member "Nguyễn Thị Kim Yến", with optional field changes."""
    issued = epoch_seconds(REFERENCE_NOW)
    fields: dict[str, Any] = {
        "issuer": TEST_ISSUER,
        "serial": "K5Q2M7XRT4HZ3WBA",
        "member_number": "79-00012345",
        "name": "Nguyễn Thị Kim Yến",
        "birth_date": date(1994, 3, 8),
        "union_code": "79-CDCS-0421",
        "province_code": "79",
        "issued_at": issued,
        "expires_at": issued + 5 * 365 * 86400,
        "status_list_id": 1,
        "status_index": 98765,
        "emergency": None,
    }
    fields.update(changes)
    return CardClaims(**fields)


def status_lists(
    list_id: int = 1, *, revoked: tuple[int, ...] = (), suspended: tuple[int, ...] = ()
) -> tuple[StatusList, StatusList]:
    """A revocation and a suspension list with the given indices set."""
    revocation = StatusList(list_id, "revocation")
    suspension = StatusList(list_id, "suspension")
    for i in revoked:
        revocation.set(i)
    for i in suspended:
        suspension.set(i)
    return revocation, suspension


def bundle_text(
    *,
    now: Instant = REFERENCE_NOW,
    keys: tuple[SigningKey | VerificationKey, ...] | None = None,
    lists: tuple[StatusList, ...] | None = None,
    version: int = 1,
) -> str:
    """A trust bundle JWS signed by the test root key (default: the test key, empty lists)."""
    return build_bundle(
        keys=keys if keys is not None else (signing_key(),),
        status_lists=lists if lists is not None else status_lists(),
        version=version,
        now=now,
        root_key=root_key(),
    )


def trust_bundle(*, now: Instant = REFERENCE_NOW, **kwargs: Any) -> TrustBundle:
    """A loaded (signature-checked) test trust bundle; arguments as :func:`bundle_text`."""
    return load_bundle(bundle_text(now=now, **kwargs), root_public_jwk(), now=now)


def random_uc1_text(length: int, seed: int = 1) -> str:
    """A UC1-shaped text of ``length`` characters over the base45 alphabet (unsigned; for
    rendering and QR tests and benchmarks)."""
    import random

    from cards.encoding import PREFIX

    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    rng = random.Random(seed)
    return PREFIX + "".join(rng.choice(alphabet) for _ in range(length - len(PREFIX)))


def reference_face(qr_text: str | None = None, **changes: Any) -> Any:
    """The printed face of the fictional member "Nguyễn Thị Kim Yến" (sample card, tests,
    benchmarks); a 300-character unsigned QR text unless one is given."""
    import dataclasses

    from cards.printing import CardFace

    face = CardFace(
        name="Nguyễn Thị Kim Yến",
        birth_date=date(1994, 3, 14),
        member_number="27-0451-0038217",
        union_name="CĐCS Công ty TNHH Điện tử Quế Võ",
        province_name="Bắc Ninh",
        valid_from=date(2025, 1, 1),
        valid_until=date(2029, 12, 31),
        serial="UC1-27-000482",
        issuer_name="LĐLĐ tỉnh Bắc Ninh",
        qr_text=qr_text if qr_text is not None else random_uc1_text(300, seed=2025),
        sex="Nữ",
        emergency="Nhóm máu O+ · Dị ứng: Penicillin",
    )
    return dataclasses.replace(face, **changes) if changes else face
