"""SQLAlchemy models, one module per aggregate; importing this package registers them all."""

from app.models.access_event import (
    AccessChainHead,
    AccessCheckpoint,
    AccessCheckpointHead,
    AccessEvent,
    AccessEventText,
)
from app.models.audit import AuditEntry
from app.models.card import (
                             Card,
                             CardStatus,
                             KeyStatus,
                             Publication,
                             SigningKeyRecord,
                             StatusListRecord,
)
from app.models.clinic import Clinic, ClinicClient, ScannerDevice
from app.models.consent import ConsentVersion
from app.models.feed import HealthFeed
from app.models.health import HealthLink, HealthRecord
from app.models.imports import ImportIssue
from app.models.job import Job, JobStatus
from app.models.login_name import LoginNameFailures
from app.models.member import Member, MemberNumberSequence, MemberStatus
from app.models.member_account import MemberAccount
from app.models.notification import NotificationAddress, OutboxMessage
from app.models.reference import Province
from app.models.transfer import TransferRequest, TransferStatus
from app.models.union import Union
from app.models.user import Role, User

__all__ = ["AuditEntry", "Card", "CardStatus", "ConsentVersion", "HealthFeed", "HealthLink", "HealthRecord", "ImportIssue", "Job", "JobStatus", "KeyStatus",
           "Member", "MemberAccount", "MemberNumberSequence", "MemberStatus", "Province", "Publication", "Role",
           "SigningKeyRecord", "StatusListRecord", "TransferRequest", "TransferStatus", "Union",
           "User",
           "AccessChainHead", "AccessCheckpoint", "AccessCheckpointHead", "AccessEvent",
           "AccessEventText", "NotificationAddress", "OutboxMessage"]
__all__ += ["Clinic", "ClinicClient", "ScannerDevice"]
__all__ += ["LoginNameFailures"]
from app.models.pin_guard import PinClientWindow, PresenceBinding  # noqa: E402

__all__ += ["PinClientWindow", "PresenceBinding"]
from app.models.access_report import AccessReport  # noqa: E402

__all__ += ["AccessReport"]
from app.models.form_submission import FormSubmission  # noqa: E402

__all__ += ["FormSubmission"]
from app.models.exam_round import ExamDelivery, ExamParticipant, ExamResult, ExamRound  # noqa: E402

__all__ += ["ExamDelivery", "ExamParticipant", "ExamResult", "ExamRound"]
