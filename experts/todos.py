"""What the draws and calls ask of people now, for their dashboards (core.todo): experts answer calls by
their deadline; the agency requests a draw once the opening is closed and contributes to it with the
witnessing supervisor (R-E2). Calls name no tender (R-E4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from bidding.models import Opening, Tender
from bidding.permissions import assigned_tenders
from bidding.todos import about
from core.db import get_row
from core.present import when
from core.todo import Todo
from experts import calls
from experts.models import Draw, Expert


def expert(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    if session.scalar(select(Expert.id).where(Expert.user_id == user.id)) is None:
        return  # not linked to a profile yet: the profile panel says so
    for call in calls.my_calls(session, user):
        if call.status == "pending" and call.deadline > now:
            draw = get_row(session, Draw, call.draw_id)
            yield Todo(
                _("Answer the call to an evaluation on %(time)s", time=when(draw.evaluation_at)),
                url_for("experts.my_call", call_id=call.id),
                draw.evaluation_place,
                call.deadline,
            )


def agency(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    mine = assigned_tenders(user)
    closed = session.scalars(
        select(Tender)
        .join(Opening, Opening.tender_id == Tender.id)
        .outerjoin(Draw, Draw.tender_id == Tender.id)
        .where(Tender.id.in_(mine), Opening.status == "closed", Draw.id.is_(None))
    )
    for tender in closed:
        yield Todo(
            _("Request the expert draw"),
            url_for("experts.draw_new", tender_id=tender.id),
            about(tender),
            None,
            "R-E2",
        )
    pending = session.execute(
        select(Draw, Tender)
        .join(Tender, Tender.id == Draw.tender_id)
        .where(Tender.id.in_(mine), Draw.status == "committed", Draw.agency_contribution.is_(None))
    ).all()
    for draw, tender in pending:
        yield _contribute(draw, tender)


def supervisor(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    pending = session.execute(
        select(Draw, Tender)
        .join(Tender, Tender.id == Draw.tender_id)
        .where(
            Draw.supervisor_id == user.id,
            Draw.status == "committed",
            Draw.supervisor_contribution.is_(None),
        )
    ).all()
    for draw, tender in pending:
        yield _contribute(draw, tender)


def _contribute(draw: Draw, tender: Tender) -> Todo:
    return Todo(
        _("Contribute your random value to the expert draw"),
        url_for("experts.draw_page", draw_id=draw.id) + "#contribute-form",
        about(tender),
        draw.evaluation_at,
        "R-E2",
    )
