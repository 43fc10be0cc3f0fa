"""A real SMTP server for tests (aiosmtpd on 127.0.0.1), which can be told to refuse."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME, PASSWORD = "unioncard", "smtp-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the server received, and the answers it gives to the next messages."""

    messages: list[EmailMessage] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # e.g. "451 4.3.0 try later"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answers:
            return self.answers.pop(0)
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  data: Any) -> AuthResult:
    ok = (isinstance(data, LoginPassword) and data.login.decode() == USERNAME
          and data.password.decode() == PASSWORD)
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unioncard test SMTP")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def smtp_server(*, tls_in: Path | None = None) -> Iterator[tuple[Inbox, int]]:
    """Run an SMTP server on a free local port: (its inbox, the port). With ``tls_in`` (a
    directory), it requires STARTTLS with a certificate written there (``smtp-cert.pem``) and
    a login (``USERNAME``, ``PASSWORD``)."""
    inbox = Inbox()
    port = free_port()
    options: dict[str, Any] = {}
    if tls_in is not None:
        cert, key = certificate(tls_in)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options = {"tls_context": context, "require_starttls": True,
                   "authenticator": _authenticate, "auth_required": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
