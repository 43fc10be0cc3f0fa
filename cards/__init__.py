"""unioncard's framework-free card library: UC1 claims, signing, trust and offline verification."""

from __future__ import annotations

from cards.claims import CardClaims, EmergencyCore, new_serial
from cards.errors import (
    BadSignature,
    CardError,
    ExpiredCard,
    InvalidCard,
    MalformedCard,
    NotYetValid,
    RevokedCard,
    SuspendedCard,
    UnknownKey,
)
from cards.issuance import issue
from cards.keys import KeyRing, SigningKey, VerificationKey, generate_signing_key, load_signing_key
from cards.status import StatusList, allocate_index
from cards.trust import TrustBundle, build_bundle, load_bundle
from cards.verify import Verification, verify

__all__ = [
    "BadSignature",
    "CardClaims",
    "CardError",
    "EmergencyCore",
    "ExpiredCard",
    "InvalidCard",
    "KeyRing",
    "MalformedCard",
    "NotYetValid",
    "RevokedCard",
    "SigningKey",
    "StatusList",
    "SuspendedCard",
    "TrustBundle",
    "UnknownKey",
    "Verification",
    "VerificationKey",
    "allocate_index",
    "build_bundle",
    "generate_signing_key",
    "issue",
    "load_bundle",
    "load_signing_key",
    "new_serial",
    "verify",
]
