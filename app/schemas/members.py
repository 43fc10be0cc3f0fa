"""Schemas of members: the register's API contract."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import NAME_RULE, PageArgsSchema, PageSchema, WarningSchema
from app.services.registry.members import SORTS, mask_insurance_number, mask_personal_id

STATUSES = ["active", "suspended", "left"]


class HealthCoverageSchema(ma.Schema):
    """What officers see of a member's health record: coverage, never content."""

    linked = ma.fields.Boolean(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True, allow_none=True,
                                    metadata={"description": "when the record last changed"})
    pull_job = ma.fields.String(dump_only=True, metadata={
        "description": "the job pulling the record: GET it for its result or failure"})


class HealthLinkSchema(ma.Schema):
    """The member's social-insurance / health ID (mã số BHXH, 10 digits)."""

    health_id = ma.fields.String(required=True, load_only=True,
                                 validate=ma.validate.Length(1, 20), metadata={
                                     "pattern": r"^[\s.-]*([0-9][\s.-]*){10}$",
                                     "description": "10 digits (spaces, dots, '-' ignored)"})


class MemberSchema(ma.Schema):
    """A member as officers see them; the personal ID only masked."""

    id = ma.fields.Integer(dump_only=True)
    member_number = ma.fields.String(dump_only=True)
    full_name = ma.fields.String(dump_only=True)
    name_ascii = ma.fields.String(dump_only=True, metadata={"description": "for search"})
    birth_date = ma.fields.Date(dump_only=True)
    sex = ma.fields.String(dump_only=True, metadata={"description": "M or F"})
    personal_id_masked = ma.fields.Function(lambda m: mask_personal_id(m.personal_id_last4),
                                            dump_only=True)
    insurance_number_masked = ma.fields.Function(
        lambda m: mask_insurance_number(m.insurance_number_last4), dump_only=True,
        allow_none=True, metadata={"description": "the social-insurance number's last 4 digits "
                                                  "(the member sees it in full in their export)"})
    phone = ma.fields.String(dump_only=True, allow_none=True)
    union_code = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    join_date = ma.fields.Date(dump_only=True, allow_none=True)
    status = ma.fields.Function(lambda m: m.status.value, dump_only=True)
    status_reason = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)
    health_record = ma.fields.Nested(HealthCoverageSchema, dump_only=True)
    health_pull = ma.fields.String(dump_only=True, metadata={
        "description": "`on-link`: linking pulls the record from the configured FHIR server; "
                       "`not-configured`: no server, the record comes only from a feed's push"})


class MemberWithWarningsSchema(MemberSchema):
    """A member just written, with any warnings about its fields."""

    warnings = ma.fields.List(ma.fields.Nested(WarningSchema), dump_only=True)


#: The forms the register accepts (``app.services.registry.identity``), as OpenAPI patterns;
#: the register also checks what a pattern cannot say (a real date, the age, the personal ID
#: against the birth date and sex: ``errors`` names the field).
_SEP = r"[\s.-]*"
_PHONE_SEP = r"[\s.()-]*"
MEMBER_RULES: dict[str, dict[str, str]] = {
    "birth_date": {"pattern": r"^\s*([0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2})\s*$"},
    "join_date": {"pattern": r"^\s*([0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2})\s*$"},
    "sex": {"pattern": r"^\s*(M|m|Nam|NAM|nam|Male|MALE|male|F|f|Nữ|NỮ|nữ|Female|FEMALE|female)\s*$"},
    "personal_id": {"pattern": rf"^{_SEP}([0-9]{_SEP}){{12}}$"},
    "insurance_number": {"pattern": rf"^{_SEP}([0-9]{_SEP}){{10}}$"},
    "phone": {"pattern": rf"^{_PHONE_SEP}(\+{_PHONE_SEP}8{_PHONE_SEP}4|8{_PHONE_SEP}4|0)"
                         rf"{_PHONE_SEP}[35789]({_PHONE_SEP}[0-9]){{8}}{_PHONE_SEP}$"},
}


class CreateMemberSchema(ma.Schema):
    """A new member. Values are checked by the register's rules (see the field errors)."""

    full_name = ma.fields.String(required=True, metadata={"example": "Nguyễn Thị Kim Yến",
                                                          **NAME_RULE})
    birth_date = ma.fields.String(required=True, metadata={
        "description": "yyyy-mm-dd or dd/mm/yyyy", "example": "1994-03-12",
        **MEMBER_RULES["birth_date"]})
    sex = ma.fields.String(required=True, metadata={"description": "M/F or Nam/Nữ",
                                                    **MEMBER_RULES["sex"]})
    personal_id = ma.fields.String(required=True, load_only=True, metadata={
        "description": "CCCD, 12 digits", "example": "024194001234",
        **MEMBER_RULES["personal_id"]})
    insurance_number = ma.fields.String(load_default=None, allow_none=True, metadata={
        "description": "mã số BHXH, 10 digits", **MEMBER_RULES["insurance_number"]})
    phone = ma.fields.String(load_default=None, allow_none=True,
                             metadata={"example": "0912345678", **MEMBER_RULES["phone"]})
    union_code = ma.fields.String(required=True)
    join_date = ma.fields.String(load_default=None, allow_none=True,
                                 metadata=MEMBER_RULES["join_date"])
    member_number = ma.fields.String(load_default=None, allow_none=True, metadata={
        "description": "assigned (province code + sequence) when omitted"})


class UpdateMemberSchema(ma.Schema):
    """Changes to a member; omitted fields stay as they are."""

    full_name = ma.fields.String(metadata=NAME_RULE)
    birth_date = ma.fields.String(metadata=MEMBER_RULES["birth_date"])
    sex = ma.fields.String(metadata=MEMBER_RULES["sex"])
    personal_id = ma.fields.String(load_only=True, metadata=MEMBER_RULES["personal_id"])
    insurance_number = ma.fields.String(allow_none=True,
                                        metadata=MEMBER_RULES["insurance_number"])
    phone = ma.fields.String(allow_none=True, metadata=MEMBER_RULES["phone"])
    union_code = ma.fields.String()
    join_date = ma.fields.String(allow_none=True, metadata=MEMBER_RULES["join_date"])
    member_number = ma.fields.String()


class MemberStatusSchema(ma.Schema):
    """A status change."""

    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200))


class RevealSchema(ma.Schema):
    """Why the full personal ID is needed (logged)."""

    reason = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200))


class PersonalIdSchema(ma.Schema):
    """The full personal ID (each reveal is logged)."""

    personal_id = ma.fields.String(dump_only=True)


class MemberQueryArgsSchema(PageArgsSchema):
    """Filters of the member list."""

    q = ma.fields.String(validate=ma.validate.Length(1, 100), metadata={
        "description": "name prefix, ignoring case and diacritics ('nguyen thi yen')"})
    member_number = ma.fields.String(validate=ma.validate.Length(1, 20))
    personal_id = ma.fields.String(validate=ma.validate.Regexp(r"^[\d .-]{12,16}$"))
    union_code = ma.fields.String(validate=ma.validate.Length(1, 20))
    province_code = ma.fields.String(validate=ma.validate.Regexp(r"^\d{2}$"))
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    sort = ma.fields.String(load_default="name", validate=ma.validate.OneOf(sorted(SORTS)))


class MemberPageSchema(PageSchema):
    """A page of members."""

    items = ma.fields.List(ma.fields.Nested(MemberSchema))
