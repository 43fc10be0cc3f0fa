"""Members' e-mail addresses for notifications: optional, stored encrypted."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import Member
from app.models.notification import NotificationAddress
from app.services import audit
from app.services.errors import NotFound, NotificationAddressInvalid

#: Encryption context of the address (owner: the member's id).
EMAIL_CONTEXT = "notification_addresses.email"
#: A plain mailbox: no display name, no comments, no spaces or control characters (so it can
#: never inject a header), one @, a dotted domain.
_MAILBOX = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{1,62}")
MAX_LENGTH = 254


def check_email(address: str) -> str:
    """The address, trimmed, when it is a plain mailbox.

    Raises:
        NotificationAddressInvalid: not a plain mailbox (``email``).
    """
    value = address.strip()
    if len(value) > MAX_LENGTH or not _MAILBOX.fullmatch(value) or ".." in value:
        raise NotificationAddressInvalid.field("email", "Not a valid e-mail address.")
    return value


class NotificationAddresses:
    """Reads and sets members' notification addresses."""

    def __init__(self, session: Session, cipher: DataCipher, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.cipher = cipher
        self.clock = clock

    def get(self, member_id: int) -> NotificationAddress | None:
        """The member's address row, if any."""
        return self.session.get(NotificationAddress, member_id)

    def email(self, member_id: int) -> str | None:
        """The member's address, decrypted (None: none given)."""
        row = self.get(member_id)
        if row is None:
            return None
        return self.cipher.decrypt(row.email_encrypted, EMAIL_CONTEXT, str(member_id))

    def set(self, member_id: int, email: str | None, *,
            actor: str = "system") -> NotificationAddress | None:
        """Set (or with None, remove) the member's address; flushed, not committed. A change
        is audited (``member.notification-email``: set, changed or removed, by ``actor``;
        never the address itself); giving the same address again changes nothing.

        Raises:
            NotFound: no such member.
            NotificationAddressInvalid: not a plain mailbox.
        """
        member = self.session.get(Member, member_id)
        if member is None:
            raise NotFound("No such member.")
        row = self.get(member_id)
        if email is None or not email.strip():
            if row is not None:
                self.session.delete(row)
                self.session.flush()
                self._audit(member, actor, "removed")
            return None
        address = check_email(email)
        if row is not None and self.email(member_id) == address:
            return row
        sealed = self.cipher.encrypt(address, EMAIL_CONTEXT, str(member_id))
        change = "set" if row is None else "changed"
        if row is None:
            row = NotificationAddress(member_id=member_id, province_code=member.province_code,
                                      email_encrypted=sealed, updated_at=self.clock())
            self.session.add(row)
        else:
            row.email_encrypted, row.updated_at = sealed, self.clock()
            row.province_code = member.province_code
        self.session.flush()
        self._audit(member, actor, change)
        return row

    def _audit(self, member: Member, actor: str, change: str) -> None:
        audit.record(self.session, actor=actor, action="member.notification-email",
                     object_type="member", object_id=member.id,
                     province_code=member.province_code, details={"change": change})
