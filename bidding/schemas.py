"""What the tender API takes and answers (core/schemas.py says how these are used). Shapes only: the
tender rules (R-T*, R-D*, R-B*) stay in the services."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints

from bidding import hall, objections, questions
from bidding.models import TRACKS
from core.schemas import Body, Id, Money, Out, PageQuery, Query, Text, Time

MAX_LOTS = 50
SHA256_HEX = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
LotNumber = Annotated[int, Field(ge=1, le=MAX_LOTS)]
UserRef = Annotated[Text[1, 150], Field(description="user name or user id")]

Track = Literal[TRACKS]  # type: ignore[valid-type]


class Lot(Body):
    name: Text[200] = ""
    estimated_price: Money
    deposit: Money | None = None


class Timeline(Body):
    documents_from: Time | None = None
    documents_to: Time | None = None
    clarification_deadline: Time | None = None
    objection_deadline: Time | None = None
    bid_deadline: Time | None = None


class TenderBody(Body):
    """A draft tender; the timeline rules are checked at publication (R-T1..R-T6), amounts now (R-D1)."""

    title: Text[200]
    track: Track = "works"
    category: Text[1, 64]
    description: Text[20_000] = ""
    region: Text[64] = ""
    tenderee_id: Id
    estimated_price: Money
    deposit: Money | None = None
    lots: Annotated[list[Lot], Field(max_length=MAX_LOTS)] | None = None
    timeline: Timeline | None = None
    scoring_scheme: dict[str, Any] | None = None
    state_controlled: bool = False


class LotPatch(Lot):
    number: int | None = Field(None, description="read only: lots are numbered in list order")


class TenderPatch(Body):
    """Changes to a draft: only the fields sent change (``timeline`` field by field, ``lots`` as a
    whole list); what GET returns is accepted back as it is (its read-only fields are ignored)."""

    id: Id | None = Field(None, description="read only")
    code: Text[20] | None = Field(None, description="read only")
    status: Text[16] | None = Field(None, description="read only")
    phase: Text[16] | None = Field(None, description="read only")
    published_at: Time | None = Field(None, description="read only")
    opening_key: Text[100] | None = Field(None, description="read only")
    title: Text[200] | None = None
    track: Track | None = None
    category: Text[1, 64] | None = None
    description: Text[20_000] | None = None
    region: Text[64] | None = None
    tenderee_id: Id | None = None
    estimated_price: Money | None = None
    deposit: Money | None = None
    lots: Annotated[list[LotPatch], Field(max_length=MAX_LOTS)] | None = None
    timeline: Timeline | None = None
    scoring_scheme: dict[str, Any] | None = None
    state_controlled: bool | None = None

    READ_ONLY: ClassVar[tuple[str, ...]] = ("id", "code", "status", "phase", "published_at", "opening_key")


class PublishBody(Body):
    """The custodians of the opening key besides the agency (R-B4): three organisations in all."""

    supervisor: UserRef
    notary: UserRef = Field(description="a notary, or a supervisor of another supervising authority")


class TeamBody(Body):
    """A colleague to assign to the tender (rights are per person)."""

    username: UserRef
    kind: Literal["agency", "supervisor"] | None = None


class TenderListQuery(PageQuery):
    q: Text[200] | None = Field(None, description="searches title, code and text (Chinese works)")
    category: Text[64] | None = None
    track: Literal["works", "procurement"] | None = None
    region: Text[64] | None = None


class DepositBody(Body):
    """``money``: where to pay and with which reference (the deposit is held when the bank's statement
    shows it paid from the basic account, R-D1); ``guarantee``: an e-guarantee, with the insurer's
    verification reference."""

    kind: Literal["money", "guarantee"]
    lot: LotNumber
    amount: Money | None = None
    insurer: Text[200] = ""
    policy_number: Text[100] = ""
    verification_ref: Text[100] = Field("", description="the insurer's verification reference")
    valid_until: Time | None = None
    file_sha256: SHA256_HEX | None = None


class BasicAccountBody(Body):
    bank: Text[1, 100]
    account_no: Text[1, 64]


class OpenBidBody(Body):
    lot: LotNumber


class DecryptBody(Body):
    file_keys: Annotated[
        dict[Literal["qualification", "technical", "commercial"], Text[200]],
        Field(description="part -> base64 16-byte age file key"),
    ]


class ShareBody(Body):
    share: Text[1, 10_000]


class OpenWithKeyBody(Body):
    bids: Annotated[list[Id], Field(max_length=1000)]


class UploadQuery(Query):
    """A file sent as the raw body names itself here; as multipart, in form fields."""

    filename: Text[200] | None = None
    title: Text[200] | None = None
    signature: Text[20_000] | None = None


class AmendmentBody(Body):
    kind: Literal["amendment", "clarification"] = "amendment"
    title: Text[1, 200]
    body: Text[100_000] = ""
    affects_bids: bool = True


class QuestionBody(Body):
    text: Text[questions.MAX_TEXT]


class AnswerQuestionsBody(Body):
    questions: Annotated[list[Id], Field(min_length=1, max_length=200)]
    answer: Text[100_000]
    affects_bids: bool = False


class ObjectionBody(Body):
    # Later packages register their stages (evaluation: publicity); bidding.objections decides.
    stage: Text[1, 20] = Field(description="documents, opening, or publicity")
    text: Text[objections.MAX_TEXT]


class AnswerBody(Body):
    answer: Text[objections.MAX_TEXT]


class CloseOpeningBody(Body):
    no_fault: Annotated[
        dict[str, Text[500]],
        Field(description="bid id -> why its decryption failed through no fault of the tenderer"),
    ] = {}
    forfeit_revoked: bool = True


class VerdictBody(Body):
    """签字确认, or an objection to the closed opening record with its reason (R-B7)."""

    verdict: Literal["confirmed", "objected"]  # hall.VERDICT_ACTIONS (a test keeps them alike)
    remark: Text[hall.REMARK_MAX] = Field(
        "", description="the reason, when the verdict is objected (5 characters or more)"
    )


class AttendanceOut(Out):
    """Your company at the opening: its sign-in (签到) and its answer to the signed record (R-B7)."""

    signed_in_at: str | None
    verdict: str | None
    verdict_at: str | None
    remark: str
    record_pdf_sha256: str | None


class CalendarDayBody(Body):
    kind: Literal["holiday", "workday", "normal"]
    name: Text[100] = ""


class RateBody(Body):
    annual_bps: Annotated[int, Field(ge=0, le=5000, description="basis points a year")]


# -- answers ------------------------------------------------------------------------------------------


class MoneyOut(Out):
    amount_fen: int
    currency: str


class LotOut(Out):
    number: int
    name: str
    estimated_price: MoneyOut
    deposit: MoneyOut


class TenderOut(Out):
    """The tender, as the caller may see it."""

    id: str
    code: str | None
    title: str
    track: str
    status: str
    phase: str
    estimated_price: MoneyOut
    deposit: MoneyOut
    state_controlled: bool
    timeline: dict[str, str | None]
    lots: list[LotOut]


class DepositOut(Out):
    """The deposit."""

    id: str
    lot: int
    kind: str
    status: str
    amount: MoneyOut


class BidOut(Out):
    """The bid."""

    id: str
    lot: int
    status: str
    parts: list[dict[str, Any]]


class UploadOut(Out):
    """A resumable upload: how far the platform's copy of the part got, and, once complete, the part.
    ``ahead``: how many chunks past the copy's end a client may send while earlier ones are written."""

    id: str
    part: str
    offset: int
    size: int
    chunk_max: int
    ahead: int
    complete: bool
    received: dict[str, Any] | None = None


class DocumentOut(Out):
    """The document."""

    id: str
    version: int
    kind: str
    title: str
