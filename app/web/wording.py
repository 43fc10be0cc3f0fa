"""The services' words in the page's language: the one table from what a service says (a
problem type, a reason code, a field message) to a sentence in the gettext catalogs.

The API keeps its English ``problem+json``; the pages look its words up here, so a Vietnamese
page never shows an English refusal. Field messages carry values (an age, a code), so they are
kept as English templates with ``%(name)s`` places: the English message is matched against
the template and the values are put into the translated sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from app.edge.problems import error_problem, for_status
from app.services.errors import DomainError
from app.web import csrf


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs without translating it (translated when shown)."""
    return message


#: One sentence per problem type (``app.edge.problems.CATALOGUE``), for a person at a page.
PROBLEMS: Mapping[str, str] = {
    "bad-request": N_("The request could not be understood."),
    "malformed-json": N_("The data sent is not valid JSON."),
    "json-too-deep": N_("The data sent is nested too deeply."),
    "unauthorized": N_("Please sign in again."),
    "invalid-credentials": N_("The name or password is wrong, or the account is disabled."),
    "forbidden": N_("Your role may not do this."),
    "not-found": N_("It does not exist, or it is outside what you may see."),
    "method-not-allowed": N_("This page cannot be used this way."),
    "not-acceptable": N_("This page cannot answer in the form asked for."),
    "conflict": N_("This clashes with what is stored already (a duplicate or a wrong step)."),
    "registered-elsewhere": N_("This person is registered by another union office; ask that "
                               "office for a transfer."),
    "letters-gone": N_("The activation letters of this batch were downloaded already."),
    "payload-too-large": N_("The file or form is too large."),
    "uri-too-long": N_("The address is too long."),
    "unsupported-media-type": N_("This kind of file or form is not accepted here."),
    "validation-error": N_("Some details are not valid."),
    "roster-invalid": N_("The roster file cannot be imported."),
    "fhir-invalid": N_("The health record sent is not a valid FHIR bundle."),
    "rate-limited": N_("Too many attempts; wait a little and try again."),
    "login-locked": N_("Too many wrong passwords: signing in is locked for a while."),
    "headers-too-large": N_("The request's headers are too large."),
    "internal-error": N_("Something went wrong on our side; please try again."),
    "service-unavailable": N_("The service is busy or under maintenance; try again soon."),
    "rosters-busy": N_("Too many roster files are being read; try again in a minute."),
    "database-busy": N_("The database is busy; try again in a moment."),
    "health-record-unavailable": N_("The health record server does not answer; try again "
                                    "soon."),
    "invalid-client": N_("The clinic's sign-in is wrong or disabled."),
    "unsupported-grant-type": N_("This way of signing in is not offered."),
    "invalid-token-request": N_("The sign-in request is incomplete."),
    "invalid-grant": N_("The name or password is wrong, or the account is disabled."),
    "invalid-scope": N_("The sign-in asked for a role this account does not have."),
    "bundle-too-large": N_("The health record sent is too large."),
    "activation-failed": N_("The member number, activation code or birth date is wrong."),
    "activation-code-expired": N_("This activation code has expired; ask your union office "
                                  "for a new one."),
    "activation-code-used": N_("This activation code was used already; sign in instead, or "
                               "ask your union office for a new one."),
    "pin-locked": N_("Too many wrong PINs: the PIN is locked for a while."),
    "pin-attempts-capped": N_("Too many wrong PINs from this clinic: PINs are refused for a "
                              "while; ask the member for the presence code on their phone."),
    "wrong-pin": N_("The PIN is wrong."),
    "consent-withdrawn": N_("This consent was withdrawn already."),
    "consent-period-invalid": N_("The consent period is not valid."),
    "consent-period-too-long": N_("The consent period is too long."),
    "consent-period-in-past": N_("The consent period lies in the past."),
    "consent-grantee-invalid": N_("Who may see the record is not described correctly."),
    "consent-terms-invalid": N_("This part of the record may only be shared on other terms."),
    "consent-notice-unknown": N_("The notice shown is not the current one; read it again."),
    "health-summary-missing": N_("There is no health summary for this member yet."),
    "scan-invalid": N_("Nothing readable was found in the scan."),
    "card-unreadable": N_("This is not a union card (UC1) code."),
    "image-too-large": N_("The photo is too large."),
    "image-decode-timeout": N_("The photo took too long to read; try a sharper, smaller "
                               "photo."),
    "presence-invalid": N_("The member's presence code was refused."),
    "grant-invalid": N_("The permission to open the record was refused; scan the card "
                        "again."),
    "card-not-usable": N_("This card cannot be used: it is not valid now."),
    "consent-changed": N_("The member's consent changed since the scan; scan the card again."),
    "consent-grantee-unknown": N_("The clinic or clinic type named in the consent is "
                                  "unknown."),
    "clinic-invalid": N_("The clinic's details are not valid."),
    "facility-code-taken": N_("This facility code is in use by another clinic."),
    "accreditation-unchanged": N_("The accreditation is already in that state."),
    "already-disabled": N_("It is disabled already."),
    "device-id-taken": N_("This device name is in use."),
    "device-not-registered": N_("This scanner is not registered for this clinic."),
    "clinic-not-accredited": N_("This clinic is not accredited (now)."),
    "clinic-client-revoked": N_("This clinic's sign-in was revoked."),
    "access-period-invalid": N_("The period asked for is not accepted."),
    "notification-address-invalid": N_("The e-mail address is not accepted."),
    "checkpoint-conflict": N_("Another checkpoint was made at the same moment; try again."),
    "backup-failed": N_("The backup or restore was refused."),
}

#: One sentence per reason code the pages can show: a card check's reason (docs/uc1.md §7),
#: a scan's, a presence proof's or a pull grant's, a consent decision's, a card's suspension
#: or revocation reason, an emergency reason, and the card library's other codes.
REASONS: Mapping[str, str] = {
    # a card check (docs/uc1.md §7) and its warnings
    "ok": N_("The card is genuine and valid."),
    "expired": N_("The card has expired."),
    "not-yet-valid": N_("The card is not valid yet."),
    "revoked": N_("The card was revoked."),
    "suspended": N_("The card is suspended."),
    "key-compromise": N_("The card was signed with a key that is no longer trusted."),
    "unknown-kid": N_("The card was signed by an issuer this service does not know."),
    "too-long": N_("The code is too long to be a card."),
    "bad-prefix": N_("The code is not a union card (it does not begin with UC1:)."),
    "bad-base45": N_("The code is damaged (not valid base45 text)."),
    "bad-zlib": N_("The code is damaged (its compression is broken)."),
    "too-large-decompressed": N_("The code unpacks to more than a card can hold."),
    "bad-cose": N_("The code is damaged (its signed envelope is broken)."),
    "bad-header": N_("The code is damaged (its header is broken)."),
    "bad-kid": N_("The code names its signing key wrongly."),
    "missing-kid": N_("The code does not name its signing key."),
    "kid-mismatch": N_("The code names another signing key."),
    "unsupported-alg": N_("The code is signed in a way this service does not accept."),
    "bad-signature-length": N_("The card's signature is damaged."),
    "bad-signature": N_("The card's signature does not match: the card was altered or "
                        "forged."),
    "wrong-key-type": N_("The card's signature does not fit its key."),
    "bad-cbor": N_("The code is damaged (its data cannot be read)."),
    "bad-claims": N_("The card's data are not in the expected form."),
    "bad-version": N_("The card is of a version this service does not know."),
    "non-canonical": N_("The card's data are not written in the one allowed way."),
    "issuer-mismatch": N_("The card's issuer does not match its signing key."),
    "bad-status-index": N_("The card's place in the status list is not valid."),
    "stale-trust-bundle": N_("The list of trusted keys is out of date."),
    "status-list-missing": N_("The list of revoked and suspended cards could not be "
                              "checked."),
    # the card library's other codes
    "card-error": N_("The card could not be checked."),
    "invalid": N_("The card is not valid."),
    "malformed": N_("The code is damaged."),
    "bad-key": N_("A key is not valid."),
    "bad-jwk": N_("A key is not valid."),
    "wrong-curve": N_("A key is of the wrong kind."),
    "bad-passphrase": N_("The key's passphrase is wrong."),
    "no-passphrase": N_("The key needs a passphrase."),
    "no-active-key": N_("There is no active signing key."),
    "key-not-usable": N_("The signing key may not be used now."),
    "bad-status-list": N_("The status list is damaged."),
    "index-out-of-range": N_("The card's place in the status list is out of range."),
    "list-full": N_("The status list is full."),
    "bad-bundle": N_("The list of trusted keys is damaged."),
    "bad-bundle-signature": N_("The list of trusted keys is not signed correctly."),
    "bad-root-key": N_("The root key of the list of trusted keys is not valid."),
    "bundle-rollback": N_("The list of trusted keys is older than the one in use."),
    "bundle-from-future": N_("The list of trusted keys is dated in the future."),
    # a scan
    "no-code-found": N_("No code was found in the picture; hold the card closer and steady."),
    "not-an-image": N_("The file is not a picture."),
    "bad-image": N_("The picture cannot be read."),
    "too-many-pixels": N_("The picture is too large; take it with fewer pixels."),
    "too-many-bytes": N_("The photo is too large."),
    "decode-timeout": N_("The picture took too long to read; try a sharper photo."),
    "bad-base64": N_("The pasted text is damaged (not valid base64)."),
    "bad-ndef": N_("The NFC tag's data cannot be read."),
    "ndef-too-large": N_("The NFC tag holds too much data."),
    "no-uc1-record": N_("The NFC tag holds no union card."),
    # a presence proof, a pull grant, the PIN, the record
    "presence-malformed": N_("The presence code is damaged."),
    "presence-bad-signature": N_("The presence code is forged or altered."),
    "presence-expired": N_("The presence code has expired; ask the member to show a fresh "
                           "one."),
    "presence-other-card": N_("The presence code belongs to another card."),
    "presence-other-clinic": N_("This presence code was used at another clinic already; ask "
                                "the member to show a fresh one."),
    "pin-attempts-capped": N_("Too many wrong PINs from this clinic: PINs are refused for a "
                              "while; ask the member for the presence code on their phone."),
    "presence-ambiguous": N_("Scan either the card or the presence code, not both."),
    "grant-missing": N_("Scan the card first."),
    "grant-malformed": N_("The permission to open the record is damaged; scan the card "
                          "again."),
    "grant-bad-signature": N_("The permission to open the record is forged or altered."),
    "grant-expired": N_("The permission to open the record has expired; scan the card "
                        "again."),
    "device-not-registered": N_("This scanner is not registered for this clinic."),
    "clinic-not-accredited": N_("This clinic is not accredited (now)."),
    "grant-other-client": N_("The permission to open the record was given to another "
                             "clinic."),
    "consent-changed": N_("The member's consent changed since the scan; scan the card again."),
    "pin-malformed": N_("The PIN is 6 digits."),
    "wrong-pin": N_("The PIN is wrong."),
    "locked": N_("Locked after too many wrong attempts; wait a while."),
    "no-summary": N_("There is no health summary for this member yet."),
    # a consent decision (which part of the record was not shared, and why)
    "consent": N_("shared by the member's consent"),
    "no-consent": N_("the member did not share it"),
    "withdrawn": N_("the member withdrew the consent"),
    "grantee-not-covered": N_("the member did not share it with this clinic"),
    "purpose-not-covered": N_("the member did not share it for this purpose"),
    # a card's suspension or revocation
    "lost": N_("lost"),
    "stolen": N_("stolen"),
    "left-union": N_("left the union"),
    "data-error": N_("wrong details on the card"),
    "superseded": N_("replaced by a new card"),
    "member-suspended": N_("membership suspended"),
    "investigation": N_("under investigation"),
    "other": N_("other"),
    # an emergency access
    "unconscious": N_("The member is unconscious or cannot communicate."),
    "life-threatening": N_("A life-threatening condition needs the emergency core now."),
    "severe-allergic-reaction": N_("A severe allergic reaction (anaphylaxis) is suspected."),
    "trauma": N_("Serious injury (a workplace accident, a road accident)."),
    "poisoning": N_("Poisoning or a chemical exposure at work."),
    # an exam round (issue 26)
    "not-in-round": N_("This card's holder is not in this exam round."),
    "round-not-begun": N_("The round has not begun: check-in opens on its first day."),
    "round-over": N_("This exam round is over."),
    "checked-in": N_("Checked in already: the answer can no longer be changed."),
    "not-checked-in": N_("Only a member the clinic checked in can have a result."),
    "result-recorded": N_("This member's result is recorded already."),
}

#: What an audit entry of a member's history records, in words (the officer's console).
ACTIONS: Mapping[str, str] = {
    "member.create": N_("registered"),
    "member.update": N_("details changed"),
    "member.status": N_("membership status changed"),
    "member.transfer": N_("transferred to another office"),
    "member.registered-elsewhere": N_("another office tried to register this person"),
    "member.personal-id.reveal": N_("full personal ID shown"),
    "member.activate": N_("member activated the account"),
    "member.reactivate": N_("member activated the account again"),
    "member.password": N_("member changed the password"),
    "member.pin": N_("member changed the PIN"),
    "member.notification-email": N_("member changed the e-mail for emergency notices"),
    "member.password_locked": N_("password locked after wrong attempts"),
    "member.pin_locked": N_("PIN locked after wrong attempts"),
    "member.pin_unlocked": N_("PIN lock cleared by an administrator"),
    "member.health-link": N_("health record linked"),
    "member.health-relink": N_("health record linked again"),
    "member.health-unlink": N_("health record unlinked"),
    "card.issue": N_("card issued"),
    "card.reissue": N_("card reissued"),
    "card.reprinted": N_("card printed again"),
    "card.suspend": N_("card suspended"),
    "card.reinstate": N_("card reinstated"),
    "card.revoke": N_("card revoked"),
    "card.activation-code": N_("new activation code"),
    "card.batch": N_("card printed in a batch"),
    "card.batch.letters": N_("activation letters downloaded"),
    "health-record.push": N_("health record received"),
    "health-record.pull": N_("health record opened by a clinic"),
    "transfer.request": N_("transfer requested"),
    "transfer.accept": N_("transfer accepted"),
    "transfer.reject": N_("transfer refused"),
}

#: Field messages of the services (and of the pages' own checks), as English templates.
MESSAGES: tuple[str, ...] = (
    # a member's details (the member form, the roster report)
    N_("This field is required."),
    N_("The name is empty."),
    N_("The name may not begin with =, +, - or @: a spreadsheet would read it as a formula."),
    N_("The name is longer than 200 characters."),
    N_("The name contains digits or control characters."),
    N_("Sex must be M or F (Nam or Nữ)."),
    N_("The birth date is in the future."),
    N_("The member must be at least %(min)s (age %(age)s)."),
    N_("The member cannot be older than %(max)s (age %(age)s)."),
    N_("The join date is in the future."),
    N_("The join date is before the birth date."),
    N_("Birth year outside 1900-2399."),
    N_("The personal ID (CCCD) must be exactly 12 digits."),
    N_("Unknown birth-province code %(code)s in the personal ID."),
    N_("Digit 4 of the personal ID is %(digit)s but a %(sex)s born in %(year)s needs "
       "%(expected)s."),
    N_("Digits 5-6 of the personal ID are %(digits)s but the birth year is %(year)s."),
    N_("The social-insurance number (mã số BHXH) must be exactly 10 digits."),
    N_("The phone must be a Vietnamese mobile number (0xxxxxxxxx or +84xxxxxxxxx, prefixes "
       "03, 05, 07, 08, 09)."),
    N_("%(text)s is not a real date."),
    N_("%(text)s is not a date (use dd/mm/yyyy or yyyy-mm-dd)."),
    N_("4-20 characters: capital letters, digits and '-'."),
    N_("Member numbers in province %(province)s begin with %(prefix)s."),
    N_("Unknown province %(province)s."),
    N_("No union %(union)s in your scope."),
    N_("A member moves to another province by a transfer request of the new office."),
    N_("This person cannot be registered by your office. If they have moved to you, ask "
       "their current office for a transfer (POST /api/v1/transfers with the personal ID and "
       "a reason)."),
    N_("Not checked: your office ran into members of other offices too often in the last "
       "hour; import again later."),
    N_("The member number %(number)s belongs to another member."),
    N_("The same %(what)s appears on an earlier row of this file."),
    N_("The value had lost its leading zero(s) (stored as a number); restored."),
    N_("The phone had lost its leading 0 (stored as a number); restored."),
    N_("The value is longer than %(limit)s characters."),
    N_("The row has more cells than the header row (an unquoted comma or semicolon inside a "
       "value?)."),
    N_("Nobody is registered with this personal ID; register the member instead."),
    N_("2-20 characters: capital letters, digits and '-'."),
    N_("You may not create unions there."),
    # accounts: passwords and PINs
    N_("The password must have at least %(min)s characters."),
    N_("The password may have at most %(max)s characters."),
    N_("The password must not be only spaces."),
    N_("The password must not contain the username."),
    N_("The password must not be a repeated or sequential run of characters."),
    N_("This password is on a list of common or breached passwords."),
    N_("The PIN must be exactly %(length)s digits."),
    N_("The PIN must not be one digit repeated."),
    N_("The PIN must not be a run of consecutive digits."),
    N_("The PIN must not be your birth date."),
    N_("3-64 characters: lowercase letters, digits, '.', '_' or '-'."),
    N_("An officer must be scoped to a province."),
    N_("An administrator has national scope."),
    N_("A union scope needs a province too."),
    N_("Unknown province code %(province)s."),
    N_("Unknown union code %(union)s."),
    N_("The union %(union)s is not in province %(province)s."),
    # cards and the clinic desk
    N_("One of: %(choices)s."),
    N_("One of: %(choices)s"),
    N_("Say what happened."),
    # the pages' own checks
    N_("Give the birth date as on your ID card."),
    N_("The two PINs differ."),
    N_("Read the notice and tick the box first."),
    N_("Choose at least one part of your record."),
    N_("Choose how many months."),
    N_("Send a camera frame."),
    N_("Scan the card, upload a photo of it or paste its text."),
    # exam rounds (issue 26)
    N_("The kind is one of %(kinds)s."),
    N_("The first day is today or later."),
    N_("A round is planned at most %(days)s days ahead."),
    N_("The last day is the first day or later."),
    N_("A round lasts at most %(days)s days."),
    N_("Give the round a title (at most 200 characters)."),
    N_("No clinic with this facility code in your province."),
    N_("The clinic is not accredited now."),
    N_("A round is held at an industrial-park clinic or an occupational-health centre."),
    N_("Name the unions the round is for."),
    N_("No union %(union)s in your scope."),
    N_("Nobody to invite: the unions have no active members."),
    N_("Nobody to invite: the unions have no active members due an exam."),
    N_("%(count)s members: a round invites at most %(max)s; plan several rounds."),
    N_("Give the day you prefer: from today to a month after the round's last day."),
    N_("The answer is confirm or another-day."),
    N_("The health class is I, II, III, IV or V (Decision 1613/BYT-QĐ)."),
    N_("Fitness for the job is one of %(choices)s."),
    N_("An ICD-10 code (e.g. H83.3, J62.8)."),
    N_("A hazard code (noise, dust, solvents, ...)."),
    N_("At most %(max)s findings and %(max2)s hazards."),
)

#: Words a field message carries as a value that are themselves English.
WORDS: Mapping[str, str] = {
    "woman": N_("woman"), "man": N_("man"),
    "personal ID": N_("personal ID"), "member number": N_("member number"),
}

def _t(msgid: str, **values: str) -> str:
    """``msgid`` in the page's language, its places filled with ``values``."""
    return str(gettext(msgid, **values) if values else gettext(msgid))


_PLACE = re.compile(r"%\((\w+)\)s")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACE.split(template)
    # split gives literal, name, literal, name, ...: literals escaped, names as groups
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                              for i, p in enumerate(parts)) + r"\Z", re.DOTALL)


_PATTERNS = tuple((_pattern(t), t) for t in MESSAGES)


def template_of(message: str) -> str | None:
    """The template ``message`` was made from, or None when the table has none."""
    for pattern, template in _PATTERNS:
        if pattern.match(message):
            return template
    return None


def message(text: str) -> str:
    """A service's field message in the page's language (unchanged when not in the table)."""
    for pattern, template in _PATTERNS:
        found = pattern.match(text)
        if found is not None:
            values = {k: _t(WORDS[v]) if v in WORDS else v
                      for k, v in found.groupdict().items()}
            return _t(template, **values)
    return text


def reason(code: str | None) -> str:
    """A reason code's sentence in the page's language (the code itself when unknown)."""
    if not code:
        return ""
    return _t(REASONS[code]) if code in REASONS else code


def action(code: str) -> str:
    """An audit action in words, in the page's language (the code itself when unknown)."""
    return _t(ACTIONS[code]) if code in ACTIONS else code


def problem(error: DomainError) -> str:
    """What a service's refusal means, in the page's language: its reason code's sentence
    when it has one, else its own message's when the table knows it and no field error says
    it already, else its problem type's."""
    code = error.extra.get("reason")
    if isinstance(code, str) and code in REASONS:
        return _t(REASONS[code])
    if not error.errors and template_of(error.detail) is not None:
        return message(error.detail)  # (with field errors, those say it: not twice)
    slug = error_problem(type(error)).problem.slug
    return _t(PROBLEMS[slug])


def http_problem(error: HTTPException) -> str:
    """An HTTP error's sentence in the page's language: a refused form's
    (``csrf.FormExpired``), else its status's problem type's ('' when the status has no
    documented type)."""
    if isinstance(error, csrf.FormExpired):
        return str(csrf.EXPIRED)
    slug = for_status(error.code or 500).slug
    return _t(PROBLEMS[slug]) if slug in PROBLEMS else ""


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """A refusal's field errors with their messages in the page's language (``field`` and
    ``message`` keys)."""
    return [{"field": str(e.get("field", "")),
             "message": message(str(e.get("detail", e.get("message", ""))))}
            for e in errors]
