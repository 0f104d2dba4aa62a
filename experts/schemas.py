"""What the experts API takes and answers (core/schemas.py says how these are used). The pool and draw
rules (R-E1..R-E4) stay in experts.draws and experts.calls."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from core.schemas import Body, Id, Out, Query, Text, Time
from experts.draws import MAX_BACKUPS

Rating = Annotated[int, Field(ge=1, le=5)]


class DrawBody(Body):
    specialties: Annotated[
        dict[Text[1, 40], Annotated[int, Field(ge=1, le=50)]],
        Field(min_length=1, max_length=50, description="specialty code -> number of experts"),
    ]
    backups: Annotated[int, Field(ge=0, le=MAX_BACKUPS, description="extra candidates per specialty")] = 0
    regions: Annotated[list[Text[1, 64]], Field(max_length=50)] = []
    # R-E1 (at most one representative) is the draw's rule, named by experts.draws.
    tenderee_representatives: Annotated[int, Field(ge=0, le=50)] = 0
    evaluation_at: Time
    evaluation_place: Text[200] = ""
    supervisor: Text[150] | None = Field(
        None, description="user name or id; default: the tender's supervisor"
    )


class ContributionBody(Body):
    value: Annotated[Text[1, 200], Field(description="64 hexadecimal characters (32 bytes)")]


class DrawQuery(Query):
    names: bool = Field(False, description="supervisors: the names before disclosure (logged)")


class AnswerCallBody(Body):
    accept: bool
    reason: Text[2000] = ""


class EmploymentBody(Body):
    """Where an expert works or worked (R-E3)."""

    employer_name: Text[1, 200]
    employer_credit_code: Text[18] = ""
    start_date: date
    end_date: date | None = None


class ReviewBody(Body):
    """一标一评: each aspect rated 1 to 5."""

    tender: Id
    punctuality: Rating
    independence: Rating
    competence: Rating
    discipline: Rating
    notes: Text[4000] = ""


class DrawOut(Out):
    """The draw's status and counts, never who before disclosure (R-E4)."""


class CallOut(Out):
    """The call."""

    id: str
    status: str
    answered_at: str


class ReviewOut(Out):
    """The review, with the evaluation's facts attached."""

    id: str
    facts: dict
    status: str
