"""The event model: ``TraceEvent``, the event-type vocabulary and batch validation.

Sources hand the hub *event inputs* (type, when, the id in the source, learner, action, data);
the hub validates a whole batch in one pydantic call, assigns ULIDs and ``received_at`` and
stores :class:`TraceEvent` rows. Each type has a pydantic model for its ``data``; plugins add
types through the ``register_event_types`` hook.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from typing_extensions import NotRequired, TypedDict

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.siret import check_siret

UTC = dt.timezone.utc
#: how deep free-form ``details`` may nest (objects and arrays): deeper is refused at the boundary
MAX_DETAILS_DEPTH = 32
SHA256_HEX = r"^[0-9a-f]{64}$"
TYPE_NAME = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


# --------------------------------------------------------------------------- storable values


def _storable(value: dt.datetime) -> dt.datetime:
    """A timestamp the ledger can keep and read back: within years 1-9999 once in UTC."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("outside the years 1-9999 once converted to UTC") from None
    return value


#: a timezone-aware timestamp that stays within years 1-9999 in UTC (every timestamp of an event)
Timestamp = Annotated[AwareDatetime, AfterValidator(_storable)]


def nesting_depth(value: Any, limit: int) -> int:
    """How many levels of dicts and lists ``value`` nests (a scalar is 0), counting no further
    than ``limit`` + 1: breadth first, so that a hostile input costs no recursion."""
    depth, level = 0, [value]
    while depth <= limit:
        nested = [v for v in level if isinstance(v, (dict, list))]
        if not nested:
            break
        depth += 1
        level = [child for v in nested for child in (v.values() if isinstance(v, dict) else v)]
    return depth


def _shallow(details: dict[str, Any] | None) -> dict[str, Any] | None:
    if details is not None and nesting_depth(details, MAX_DETAILS_DEPTH) > MAX_DETAILS_DEPTH:
        raise ValueError(f"nested more than {MAX_DETAILS_DEPTH} levels deep")
    return details


# --------------------------------------------------------------------------- envelope parts


class LearnerRef(BaseModel):
    """Who an event is about, as the source knows them (resolved across sources later)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ref: str = Field(min_length=1, max_length=200, description="The learner's id in the source system")
    site: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="The site or tenant within which `ref` is unique, when one source instance reads several "
        "(an xAPI account's homePage): the learner's source key becomes src:<connector>/<site>:<ref>")
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=300)
    ids: dict[str, str] | None = Field(
        default=None,
        description="Other identifiers the source knows, by namespace: "
        "{'stripe_customer': 'cus_…', 'hubspot_contact': '501', 'moodle_user': '17', 'nir': '…'}",
    )


class EvidenceRef(BaseModel):
    """A content-addressed attachment kept in the blob store (a signed sheet, a webhook body)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sha256: str = Field(pattern=SHA256_HEX)
    media_type: str = "application/octet-stream"
    size: int = Field(ge=0)
    name: str | None = None


class EventData(BaseModel):
    """Base of every type's data model. ``details`` holds free-form source fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    details: Annotated[dict[str, Any] | None, AfterValidator(_shallow)] = None


IdKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]


class LearnerInput(TypedDict):
    ref: Annotated[str, Field(min_length=1, max_length=200)]
    site: NotRequired[Annotated[str, Field(min_length=1, max_length=200)] | None]
    email: NotRequired[Annotated[str, Field(max_length=320)] | None]
    name: NotRequired[Annotated[str, Field(max_length=300)] | None]
    ids: NotRequired[dict[IdKey, Annotated[str, Field(min_length=1, max_length=200)]] | None]


class EvidenceInput(TypedDict):
    sha256: Annotated[str, Field(pattern=SHA256_HEX)]
    media_type: NotRequired[str]
    size: Annotated[int, Field(ge=0)]
    name: NotRequired[str | None]


# The envelope of an event input. Declared as TypedDicts rather than models: pydantic validates
# a batch of dicts about three times faster this way, and ingest wants dicts anyway.
ENVELOPE_FIELDS: dict[str, Any] = {
    "occurred_at": Timestamp,
    "source": NotRequired[Annotated[str, Field(min_length=1, max_length=100)] | None],
    "source_id": Annotated[str, Field(min_length=1, max_length=300)],
    "learner": NotRequired[LearnerInput | None],
    "action": NotRequired[Annotated[str, Field(min_length=1, max_length=200)] | None],
    "evidence": NotRequired[list[EvidenceInput]],
    "supersedes": NotRequired[Annotated[str, Field(min_length=26, max_length=26)] | None],
}


class TraceEvent(BaseModel):
    """One fact in the evidence ledger. Immutable; corrections are new events (``supersedes``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(description="ULID assigned at ingest; sorts by ingest time")
    type: str
    occurred_at: Timestamp
    received_at: Timestamp
    source: str
    source_id: str
    learner: LearnerRef | None = None
    action: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    evidence: tuple[EvidenceRef, ...] = ()
    supersedes: str | None = None


# --------------------------------------------------------------------------- vocabulary data

HalfDay = Literal["am", "pm"]
Modality = Literal["presentiel", "distanciel_synchrone", "foad_asynchrone"]
FunderKind = Literal["opco", "france_travail", "region", "cpf", "employer", "self", "other"]
#: a SIRET: 14 digits (spaces allowed, removed) with a valid check digit
Siret = Annotated[str, AfterValidator(check_siret)]
#: the BPF's F-1 type of trainee: a employee, b apprentice, c job-seeker, d individual, e other
TraineeType = Literal["a", "b", "c", "d", "e"]


class ProgramViewed(EventData):
    program: str = Field(min_length=1)
    url: str | None = None
    consent: bool = Field(description="The visitor accepted audience measurement (RGPD)")

    @field_validator("consent")
    @classmethod
    def _needs_consent(cls, value: bool) -> bool:
        if not value:
            raise ValueError("a program view may only be recorded with the visitor's consent")
        return value


class ContactCreated(EventData):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    origin: str | None = None


class Registered(EventData):
    enrolment: str | None = Field(default=None, description="Enrolment reference in the source")
    program: str | None = None


class TermsAccepted(EventData):
    document: str = Field(min_length=1, description="Name or version of the terms (CGV)")
    method: str | None = None


class EmployerFields(EventData):
    """The beneficiary's employer, as the dossier states it (an agreement or a funding decision)."""

    employer_name: str | None = Field(default=None, min_length=1, max_length=300,
                                      description="The employer's name (raison sociale)")
    employer_siret: Siret | None = Field(default=None, description="The employer's SIRET (14 digits, Luhn)")


class AgreementSigned(EmployerFields):
    agreement_type: Literal["convention", "contrat", "other"] = "convention"
    reference: str | None = None
    signed_by: str | None = None


class FundingApproved(EmployerFields):
    """A funding decision (prise en charge) with the dossier fields the documents and formats read
    (through :mod:`hub.journeys.dossier`, which falls back to ``details`` for older events)."""

    funder: str = Field(min_length=1, description="Funder name as configured, e.g. opco-atlas")
    funder_kind: FunderKind = "other"
    amount: Decimal | None = Field(default=None, ge=0)
    currency: str = "EUR"
    hours: Decimal | None = Field(default=None, ge=0)
    reference: str | None = None
    dossier: str | None = Field(default=None, min_length=1, max_length=100,
                                description="The funder's file number (numéro de dossier), when it differs "
                                            "from the decision's reference")
    remuneration: str | None = Field(default=None, min_length=1, max_length=100,
                                     description="The trainee's remuneration scheme (France Travail, Région)")
    trainee_type: TraineeType | None = Field(default=None, description="BPF F-1 type of trainee, when the funder "
                                                                        "does not tell it")
    subrogation: bool | None = Field(default=None, description="false: the funder reimburses the employer, "
                                                               "not the training organisation")


class PaymentSucceeded(EventData):
    amount: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    payer: str | None = None
    reference: str | None = None
    method: str | None = None


class PaymentRefunded(EventData):
    amount: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    reference: str | None = None
    reason: str | None = None


class InvoiceIssued(EventData):
    """An invoice (or a credit note) of the training organisation, as its accounting states it.

    One event per enrolment the invoice bills (the learner and action of the envelope); an invoice
    of a whole session to a company is one event per learner with that learner's share, or one
    event with the action and no learner."""

    number: str = Field(min_length=1, max_length=100, description="The invoice number")
    date: dt.date = Field(description="The invoice date (the BPF assigns the product to its year)")
    kind: Literal["invoice", "credit_note"] = Field(default="invoice", description="credit_note: an avoir, deducted")
    payer_kind: FunderKind = Field(description="Who pays, as funder kinds: opco, cpf (the CDC), employer, self…")
    payer_name: str | None = Field(default=None, min_length=1, max_length=300)
    payer_siret: Siret | None = Field(default=None, description="The payer's SIRET (14 digits, Luhn)")
    funder: str | None = Field(default=None, min_length=1, description="The funder name of the funding.approved "
                                                                         "it bills, when it bills one")
    amount_ht: Decimal = Field(ge=0, description="Amount excluding VAT (hors taxes)")
    amount_ttc: Decimal = Field(ge=0, description="Amount including VAT (toutes taxes comprises)")
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    enrolment: str | None = Field(default=None, description="Enrolment reference in the source")
    due_date: dt.date | None = None

    @model_validator(mode="after")
    def _ttc_covers_ht(self) -> "InvoiceIssued":
        if self.amount_ttc < self.amount_ht:
            raise ValueError(f"amount_ttc {self.amount_ttc} is below amount_ht {self.amount_ht}")
        return self


class InvoicePaid(EventData):
    number: str = Field(min_length=1, max_length=100, description="The number of the invoice paid")
    paid_at: Timestamp
    amount: Decimal = Field(ge=0, description="Amount received (TTC)")
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    method: str | None = None
    reference: str | None = Field(default=None, description="The payment's id (bank transfer, Stripe…)")


class Started(EventData):
    date: dt.date | None = None


class AttendanceSigned(EventData):
    date: dt.date
    half_day: HalfDay
    modality: Modality = "presentiel"
    signer: Literal["learner", "trainer"] = "learner"
    signer_name: str | None = None
    trainer_cosigned: bool = False
    trainer_name: str | None = None
    signed_at: Timestamp | None = None
    proof: str | None = Field(default=None, description="How it was signed: e-signature, scan, QR…")


class AttendanceAbsent(EventData):
    date: dt.date
    half_day: HalfDay
    justified: bool = False
    reason: str | None = None


class LmsSession(EventData):
    start: Timestamp
    end: Timestamp
    duration_seconds: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "LmsSession":
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class ActivityCompleted(EventData):
    activity: str = Field(min_length=1)
    activity_name: str | None = None
    activity_type: str | None = None
    state: Literal["complete", "pass", "fail"] = "complete"
    estimated_minutes: int | None = Field(default=None, ge=0)


class QuizAttempted(EventData):
    activity: str = Field(min_length=1)
    activity_name: str | None = None
    attempt: int = Field(default=1, ge=1)
    score: Decimal | None = None
    max_score: Decimal | None = Field(default=None, gt=0)
    passed: bool | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None


class ResourceDownloaded(EventData):
    resource: str = Field(min_length=1)
    resource_name: str | None = None


class MediaPlayed(EventData):
    media: str = Field(min_length=1)
    media_name: str | None = None
    played_seconds: int | None = Field(default=None, ge=0)
    progress_percent: Decimal | None = Field(default=None, ge=0, le=100)


class VirtualClassAttended(EventData):
    meeting: str = Field(min_length=1)
    meeting_name: str | None = None
    joined_at: Timestamp | None = None
    left_at: Timestamp | None = None
    duration_seconds: int = Field(ge=0)


class Progress(EventData):
    percent: Decimal = Field(ge=0, le=100)


class TutorInteraction(EventData):
    kind: Literal["message", "feedback", "live_help", "other"] = "message"
    tutor: str | None = None
    summary: str | None = None


class AssessmentGraded(EventData):
    assessment: str = Field(min_length=1)
    score: Decimal | None = None
    max_score: Decimal | None = Field(default=None, gt=0)
    passed: bool | None = None
    grader: str | None = None


class CertificationAwarded(EventData):
    certification: str = Field(min_length=1)
    code: str | None = Field(default=None, description="RNCP or RS code")
    result: str | None = None


class Completed(EventData):
    date: dt.date | None = None


class Abandoned(EventData):
    date: dt.date
    reason: str | None = None


class DocumentIssued(EventData):
    document_type: str = Field(min_length=1)
    document: str = Field(min_length=1, description="Document id")
    sha256: str = Field(pattern=SHA256_HEX)


class DocumentRevoked(EventData):
    document: str = Field(min_length=1)
    reason: str | None = None


class BadgeAwarded(EventData):
    """A milestone reached, recognised by a badge (hub.badges): what the Open Badges 3.0 credential
    states, as awarded (later changes of the badge's configuration do not change it)."""

    badge: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$", description="The badge's id (hub.badges.badges)")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    criteria: str = Field(min_length=1, max_length=2000, description="How it is earned (criteria narrative)")
    image: str | None = Field(default=None, max_length=100_000)
    milestone: Literal["module_completed", "attendance_streak", "certification"]
    occurrence: str = Field(min_length=1, max_length=300, description="What makes this award unique for the "
                            "learner and badge (the action, and the certification)")
    evidence_events: list[Annotated[str, Field(min_length=26, max_length=26)]] = Field(
        default_factory=list, max_length=1000, description="The events that prove the milestone")
    recipient_name: str | None = Field(default=None, max_length=300)
    identity_hash: str | None = Field(default=None, pattern=r"^sha256\$[0-9a-f]{64}$",
                                      description="sha256$ of the learner's e-mail address and the salt")
    identity_salt: str | None = Field(default=None, max_length=64)


class BadgeRevoked(EventData):
    credential: str = Field(min_length=26, max_length=26, description="Id of the badge.awarded event")
    status_index: int = Field(ge=0, description="The credential's index in the revocation status list")
    reason: str | None = Field(default=None, max_length=500)


class AlertRaised(EventData):
    rule: str = Field(min_length=1)
    message: str = Field(min_length=1)
    severity: Literal["info", "warning", "critical"] = "warning"


class RiskReason(BaseModel):
    """One feature's part in a dropout-risk score, in words."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    feature: str = Field(min_length=1, max_length=60, description="The feature (docs/risk.md), or the alert rule")
    contribution: float = Field(description="How much it raises the risk (log-odds; the rules: 1 per rule)")
    text: str = Field(min_length=1, max_length=300, description="The reason in words, e.g. 'aucune activité "
                      "depuis 12 jours'")


class RiskFlagged(EventData):
    """An enrolment whose dropout risk reached the threshold (hub.risk), with its reasons."""

    score: float = Field(ge=0, le=1, description="The dropout risk, 0-1")
    threshold: float = Field(gt=0, lt=1, description="The threshold it reached")
    model: str = Field(min_length=1, max_length=100, description="The model version, or 'rules'")
    as_of: Timestamp = Field(description="The instant the features were read at")
    reasons: list[RiskReason] = Field(min_length=1, max_length=20, description="The features that raise the risk most")


class AlertFollowedUp(EventData):
    alert: str = Field(min_length=1, description="Id of the alert.raised (or risk.flagged) event")
    action_taken: str = Field(min_length=1)
    by: str | None = None


class DeadlineDue(EventData):
    obligation: str = Field(min_length=1)
    due_at: Timestamp


class DeadlineMissed(EventData):
    obligation: str = Field(min_length=1)
    due_at: Timestamp


class AdminAction(EventData):
    actor: str = Field(min_length=1)
    command: str = Field(min_length=1)
    target: str | None = None


class SignIn(EventData):
    """A sign-in to the web app, successful or not (never with the password or the code typed)."""

    email: str = Field(min_length=1, max_length=320, description="The e-mail address typed (lowercased)")
    account: str | None = Field(default=None, description="The account's id; None when no account has that address")
    role: str | None = None
    outcome: Literal["success", "failure"]
    step: Literal["password", "totp", "recovery_code", "email_link", "oidc"] = Field(
        description="The step that succeeded or failed (email_link: a link sent by e-mail; oidc: the "
        "organisation's OpenID Connect provider)")
    reason: str | None = Field(default=None, description="Why it failed: bad_credentials, bad_code, locked, disabled, "
                               "bad_link, not_learner, unknown_email, email_not_verified, role_not_allowed, "
                               "bad_state, bad_token, provider_error")
    detail: str | None = Field(default=None, max_length=200,
                               description="What was wrong, in words (an ID token's check that failed…)")
    remote: str | None = Field(default=None, max_length=100, description="The client's address")


class SignOut(EventData):
    """A web app session ended by its user."""

    email: str = Field(min_length=1, max_length=320)
    account: str = Field(min_length=1)
    remote: str | None = Field(default=None, max_length=100)


class AuditViewed(EventData):
    """An auditor's link was used (hub.audit.links): a page read or the audit pack downloaded. Never
    with the token: the link's id names it."""

    link: str = Field(min_length=1, description="The audit link's id (parcours audit-link list)")
    action: str = Field(min_length=1, description="The training action of the link's scope")
    what: Literal["index", "learner", "pack"] = Field(description="The page read, or the pack downloaded")
    learner: str | None = Field(default=None, description="The learner whose page was read")
    remote: str | None = Field(default=None, max_length=100, description="The client's address")


class DataExported(EventData):
    """A person's data handed over (RGPD art. 15 access, art. 20 portability: see docs/personal-data.md):
    who asked, how, and the SHA-256 of the file given. Never what the file holds: the envelope names
    the learner by hub id only."""

    learner: str = Field(min_length=1, max_length=100, description="The hub learner id exported")
    by: str = Field(min_length=1, max_length=320, description="Who asked: the system user of the command line, "
                                                              "or the web account id of the learner")
    channel: Literal["cli", "web"] = Field(description="The command line, or the learner's own download")
    format: Literal["json", "pdf", "both"] = Field(description="What the zip holds")
    sha256: str = Field(pattern=SHA256_HEX, description="SHA-256 of the zip handed over")


#: the identity fields a rectification corrects (what the projections and documents print of a person)
RECTIFIABLE_FIELDS = ("name", "email")


class Rectified(EventData):
    """A correction of a learner's identity (RGPD art. 16). One event per enrolment of the learner
    (one without an action when there is none), each superseding the enrolment's previous correction
    of the same field; the source events keep what they said, the projections read the correction."""

    field: Literal["name", "email"] = Field(description="The identity field corrected")
    value: str = Field(min_length=1, max_length=320, description="The correct value")
    previous: str | None = Field(default=None, max_length=320, description="The value the hub held before")
    reason: str = Field(min_length=1, max_length=500, description="Why (the person's request, a typing error…)")
    by: str = Field(min_length=1, max_length=320, description="Who recorded the correction")
#: a consent purpose's id as the organisation configures it (hub.consents.purposes)
PurposeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]


class ConsentChange(EventData):
    """A person's consent to one purpose of processing, given or withdrawn (RGPD art. 7): which
    purpose, which version of the text they read, for whom when the purpose names a recipient."""

    purpose: PurposeId = Field(description="The purpose's id (hub.consents.purposes), e.g. funnel_tracking")
    version: str = Field(min_length=1, max_length=40, description="The version of the purpose's text shown")
    scope: str | None = Field(default=None, min_length=1, max_length=300,
                              description="Whom it concerns, when the purpose names a recipient: the employer's "
                                          "SIRET or name for employer_progress")
    channel: Literal["web", "cli", "connector"] = Field(description="Where it was given or withdrawn")
    by: str | None = Field(default=None, max_length=320, description="Who recorded it: the web account or the "
                                                                      "operating-system user of the CLI")


class ConsentGiven(ConsentChange):
    """The person gave their consent to ``purpose`` (the text of ``version``)."""


class ConsentWithdrawn(ConsentChange):
    """The person withdrew their consent to ``purpose``: what it covers stops from then on."""


class DocumentDownloaded(EventData):
    """A learner downloaded one of their documents from the web app (never with the file itself)."""

    document: str = Field(min_length=1, description="The document's id (its document.issued event)")
    document_type: str = Field(min_length=1)
    account: str = Field(min_length=1, description="The web account that downloaded it")
    remote: str | None = Field(default=None, max_length=100, description="The client's address")
class ErasedLeaf(TypedDict):
    id: Annotated[str, Field(min_length=26, max_length=26)]
    leaf: Annotated[str, Field(pattern=SHA256_HEX)]
    kept: Annotated[str, Field(pattern=SHA256_HEX)]


class PrivacyErased(EventData):
    """Sealed events whose personal content the hub erased (hub.privacy), each with the leaf hash it
    was sealed with and the hash of what the erasure keeps: what ``verify`` checks erased rows against.
    Never with personal data: the learner is named by its hub id."""

    learner: str | None = Field(default=None, description="The hub learner id (a pseudonym), or None for access logs")
    kind: str = Field(min_length=1, description="What was erased: person, funnel, access")
    rule: str = Field(min_length=1, description="The retention rule or request it applies, with its legal source")
    reason: str | None = Field(default=None, max_length=500)
    events: list[ErasedLeaf] = Field(default_factory=list)
    dead_letters: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, description="The rejects (dead letters r:<id>) whose personal values it erased")

    @model_validator(mode="after")
    def _erases_something(self):
        if not self.events and not self.dead_letters:
            raise ValueError("a privacy.erased record names at least one event or dead letter")
        return self


class ErasureRefused(EventData):
    """A request to erase a learner refused because the law requires keeping the data until a date."""

    learner: str = Field(min_length=1, description="The hub learner id")
    rule: str = Field(min_length=1, description="The retention rule that keeps the data, with its legal source")
    until: dt.date = Field(description="The day the data may be erased")
    reason: str | None = Field(default=None, max_length=500)


CORE_EVENT_TYPES: dict[str, type[EventData]] = {
    # funnel
    "prospect.program_viewed": ProgramViewed,
    "prospect.contact_created": ContactCreated,
    "enrolment.registered": Registered,
    "enrolment.terms_accepted": TermsAccepted,
    "enrolment.agreement_signed": AgreementSigned,
    "funding.approved": FundingApproved,
    "payment.succeeded": PaymentSucceeded,
    "payment.refunded": PaymentRefunded,
    "invoice.issued": InvoiceIssued,
    "invoice.paid": InvoicePaid,
    # training
    "enrolment.started": Started,
    "attendance.signed": AttendanceSigned,
    "attendance.absent": AttendanceAbsent,
    "lms.session": LmsSession,
    "lms.activity_completed": ActivityCompleted,
    "lms.quiz_attempted": QuizAttempted,
    "lms.resource_downloaded": ResourceDownloaded,
    "lms.media_played": MediaPlayed,
    "lms.virtual_class_attended": VirtualClassAttended,
    "lms.progress": Progress,
    "lms.tutor_interaction": TutorInteraction,
    # outcome
    "assessment.graded": AssessmentGraded,
    "certification.awarded": CertificationAwarded,
    "enrolment.completed": Completed,
    "enrolment.abandoned": Abandoned,
    "document.issued": DocumentIssued,
    "document.revoked": DocumentRevoked,
    "badge.awarded": BadgeAwarded,
    "badge.revoked": BadgeRevoked,
    # follow-up
    "alert.raised": AlertRaised,
    "alert.followed_up": AlertFollowedUp,
    "risk.flagged": RiskFlagged,
    "compliance.deadline_due": DeadlineDue,
    "compliance.deadline_missed": DeadlineMissed,
    "admin.action": AdminAction,
    # retention and erasure (hub.privacy)
    "privacy.erased": PrivacyErased,
    "privacy.erasure_refused": ErasureRefused,
    # the web app
    "access.sign_in": SignIn,
    "access.sign_out": SignOut,
    "access.audit_viewed": AuditViewed,
    # a person's rights over their data
    "privacy.data_exported": DataExported,
    "privacy.rectified": Rectified,
    "access.document_downloaded": DocumentDownloaded,
    # personal data
    "consent.given": ConsentGiven,
    "consent.withdrawn": ConsentWithdrawn,
}


# --------------------------------------------------------------------------- registry


class EventValidationError(ValueError):
    """One or more event inputs were invalid. ``problems`` holds (index, field path, message)."""

    def __init__(self, problems: list[tuple[int, str, str]]):
        self.problems = problems
        lines = [f"event {i}: {path}: {msg}" if path else f"event {i}: {msg}" for i, path, msg in problems]
        super().__init__("; ".join(lines[:20]) + (f" (+{len(lines) - 20} more)" if len(lines) > 20 else ""))


class EventTypeRegistry:
    """Event types known to this hub and a batch validator built from them."""

    def __init__(self, types: dict[str, type[EventData]] | None = None):
        self._types: dict[str, type[EventData]] = {}
        self._adapter: TypeAdapter | None = None
        for name, model in (types if types is not None else CORE_EVENT_TYPES).items():
            self.register(name, model)

    def register(self, name: str, model: type[EventData]) -> None:
        """Add a type. ``model`` must subclass :class:`EventData`; names are dotted lowercase."""
        import re

        if not re.match(TYPE_NAME, name):
            raise ValueError(f"event type {name!r}: names are dotted lowercase words, e.g. 'lms.session'")
        if not (isinstance(model, type) and issubclass(model, EventData)):
            raise TypeError(f"event type {name!r}: data model must subclass hub.events.EventData")
        existing = self._types.get(name)
        if existing is not None and existing is not model:
            raise ValueError(f"event type {name!r} is already registered with {existing.__name__}")
        self._types[name] = model
        self._adapter = None

    def names(self) -> list[str]:
        return sorted(self._types)

    def __contains__(self, name: str) -> bool:
        return name in self._types

    def data_model(self, name: str) -> type[EventData]:
        return self._types[name]

    def _build_adapter(self) -> TypeAdapter:
        variants = []
        for name, model in self._types.items():
            required = any(f.is_required() for f in model.model_fields.values())
            fields = {"type": Literal[name], **ENVELOPE_FIELDS, "data": model if required else NotRequired[model]}
            variant = TypedDict("Input_" + name.replace(".", "_"), fields)  # type: ignore[misc]
            variant.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
            variants.append(variant)
        union = Annotated[Union[tuple(variants)], Field(discriminator="type")]  # type: ignore[valid-type]
        return TypeAdapter(list[union])

    @property
    def adapter(self) -> TypeAdapter:
        if self._adapter is None:
            self._adapter = self._build_adapter()
        return self._adapter

    def validate_batch(self, items: list[Any]) -> list[dict[str, Any]]:
        """Validate a list of event inputs (dicts) at once.

        Returns the validated inputs as dicts whose ``data`` is an instance of the type's model.
        Raises :class:`EventValidationError` listing every bad item and field.
        """
        try:
            return self.adapter.validate_python(items)
        except ValidationError as exc:
            raise EventValidationError(self._problems(exc, items)) from None

    def _problems(self, exc: ValidationError, items: list[Any]) -> list[tuple[int, str, str]]:
        known = ", ".join(self.names())
        out: list[tuple[int, str, str]] = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = list(err["loc"])
            if not loc or not isinstance(loc[0], int):
                out.append((0, "", "expected a list of event objects"))
                continue
            index = loc.pop(0)
            if loc and isinstance(loc[0], str) and loc[0] in self._types:
                loc.pop(0)  # the union tag adds the type name to the location
            path = ".".join(str(p) for p in loc)
            msg = err["msg"]
            if err["type"] == "union_tag_invalid":
                item = items[index] if index < len(items) else None
                bad = item.get("type") if isinstance(item, dict) else None
                path, msg = "type", f"unknown event type {bad!r} (known: {known})"
            elif err["type"] == "union_tag_not_found":
                path, msg = "type", "field required"
            out.append((index, path, msg))
        return out


def to_trace_event(row: dict[str, Any]) -> TraceEvent:
    """Build a TraceEvent from a stored row dict (ignores storage-only keys such as ``seq``)."""
    return TraceEvent.model_validate({k: v for k, v in row.items() if k in TraceEvent.model_fields})
