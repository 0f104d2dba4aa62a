"""What the evaluation API takes and answers (core/schemas.py says how these are used). The scoring
rules (R-V1..R-V6) and award rules (R-A*) stay in evaluation's services: a scheme or a sheet of the
right shape can still be refused there, item by item."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field

from core.schemas import Body, Id, Out, Query, Text, Time
from evaluation.scheme import MAX_CRITERIA

Points = Annotated[
    int | float | Text[1, 20],
    Field(description="points, at most two decimals (a number or a decimal string)"),
]
Key: TypeAlias = Text[1, 100]


class Criterion(Body):
    key: Text[1, 40]
    name: Text[1, 200]
    part: Literal["qualification", "technical", "commercial"]
    kind: Literal["pass_fail", "subjective", "objective"]
    min_points: Points | None = None
    max_points: Points | None = None
    blind: bool = False
    guidance: Text[2000] = Field("", description="评分标准: what earns the points, shown to the experts")


class PriceRule(Body):
    formula: Literal["lowest_valid", "average_benchmark", "none"] | None = None
    points: Points | None = None
    coefficients: Annotated[list[int | float | Text[1, 20]], Field(max_length=50)] | None = None
    above_per_percent: Points | None = None
    below_per_percent: Points | None = None


class SchemeBody(Body):
    """A scoring scheme; R-V2's weights are checked item by item (422 scheme_invalid names each)."""

    method: Literal["comprehensive", "lowest_price"]
    subject: Literal["goods", "services", "works"] | None = None
    criteria: Annotated[list[Criterion], Field(max_length=MAX_CRITERIA)]
    price: PriceRule | None = None


class SchemeOut(Out):
    """The scoring scheme."""

    tender_id: str
    version: int
    method: str
    criteria: list[dict[str, Any]]


class RoomBody(Body):
    representative: Id | None = Field(None, description="the tenderee's user who sits on the committee")
    representative_username: Text[150] | None = Field(
        None, description="or the same person by user name (GET .../evaluation/representatives lists them)"
    )


class CodeBody(Body):
    code: Annotated[Text[1, 16], Field(description="a fresh TOTP code")]


class ConflictBody(Body):
    bids: Annotated[list[Id], Field(min_length=1, max_length=200)]
    reason: Text[2000] = ""


class ChairBody(Body):
    candidate: Id


class Verdict(Body):
    pass_: bool = Field(alias="pass")
    reason: Text[1000] = ""


class SheetBody(Body):
    qualification: Annotated[
        dict[Key, dict[Key, Verdict]], Field(description="bid id -> criterion -> {pass, reason}")
    ] = {}
    scores: Annotated[
        dict[Key, dict[Key, Points]],
        Field(description="blind code (blind technical items) or bid id -> criterion -> points"),
    ] = {}

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


class SignatureBody(Body):
    code: Annotated[Text[1, 16], Field(description="a fresh TOTP code")]
    decision: Literal["agree", "dissent", "refused"]
    reasons: Text[4000] = ""
    cms_signature: Annotated[
        Text[20_000] | None, Field(description="base64 DER over the content's canonical JSON")
    ] = None


class ReviewBody(Body):
    # R-V4 decides which reasons a review may give (review_reason_not_allowed): not the schema.
    reason: Text[1, 40] = Field(
        description="summation_error, score_out_of_range, objective_inconsistent or abnormal_score"
    )
    member: Id = Field(description="the seat (member id) whose score changes, as in the flags")
    bid: Key = Field(description="bid id, or blind code for a blind item")
    criterion: Text[40] | None = None
    points: Points | None = None
    note: Text[4000]


class DecisionBody(Body):
    bid: Id
    reasons: Text[4000] = ""


class ContractQuery(Query):
    amount_fen: Annotated[int, Field(ge=0, le=10**15)] | None = Field(
        None, description="the contract amount in fen (with a raw body)"
    )


class ComplaintBody(Body):
    text: Text[8000]
    learned_at: Time | None = Field(None, description="default: the result notice")


class AnswerBody(Body):
    answer: Text[8000]


class AwardOut(Out):
    """The award."""
