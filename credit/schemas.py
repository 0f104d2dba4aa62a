"""What the conduct-records API takes and answers (core/schemas.py says how these are used). The
debarment bounds of R-R3 stay in credit.services."""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import Field

from core.schemas import Body, Out, PageQuery, Text
from credit.models import CATEGORIES, SUBJECT_KINDS
from credit.services import MAX_FACTS, MAX_PENALTY

SubjectKind = Literal[SUBJECT_KINDS]  # type: ignore[valid-type]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]


class RecordBody(Body):
    """A conduct record (JSON, or multipart/form-data with an ``evidence`` file)."""

    subject_kind: SubjectKind
    subject: Text[1, 200] = Field(description="organisation id or credit code; expert id")
    category: Category
    facts: Text[1, MAX_FACTS]
    penalty: Text[1, MAX_PENALTY]
    tender_code: Text[40] | None = None
    debarred_from: datetime.date | None = None
    debarred_to: datetime.date | None = Field(None, description="last day, inclusive")


class RevokeRecordBody(Body):
    reason: Text[MAX_PENALTY] = ""  # none: the service names what is missing


class RecordListQuery(PageQuery):
    q: Text[200] | None = Field(None, description="name or credit code")
    kind: SubjectKind | None = None
    category: Category | None = None


class RecordOut(Out):
    """The conduct record, as the caller may see it."""

    id: str
    subject: dict
    category: str
    facts: str
    penalty: str
