"""Calls (专家通知): drawn experts are asked in draw order until every seat is accepted (R-E1, R-E2, R-E4).

When a draw has run, the first ``count`` experts of each specialty's drawn list are called; a decline
or a missed deadline calls the next one (the backups). Every seat accepted: the committee is formed.
The list runs dry: the draw records the shortfall and the agency is offered a supplementary draw
(补抽), which is a new draw for the missing seats.

A called expert learns the evaluation's time and place, never the tender (R-E4), until they enter
the room. The agency learns how many accepted, not who.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from bidding import permissions
from core import clock
from core.clock import local
from core.db import get_row
from core.errors import Conflict, Invalid, NotFound
from core.notifications import queue
from experts import draws
from experts import pool as expert_pool
from experts.models import Call, Draw, Expert

CALL_PURPOSE = "call_expert"
ANSWER_WINDOW = timedelta(hours=2)
# Channels an expert is called through: e-mail always; SMS and a spoken call (core.voice: the message
# rendered as Mandarin audio for the telephony gateway) when a phone number is known.
CHANNELS = ("email", "sms", "voice")


def expert_tag(expert_id: uuid.UUID) -> str:
    key = hashlib.sha256(b"sunbid call tag\x00" + current_app.config["DATA_KEY"].encode()).digest()
    return hmac.new(key, expert_id.bytes, "sha256").hexdigest()


def called_expert(call: Call) -> uuid.UUID:
    return uuid.UUID(expert_pool.cipher().open(CALL_PURPOSE, call.expert_sealed).decode())


def _deadline(draw: Draw, now: datetime) -> datetime:
    return min(now + ANSWER_WINDOW, draw.evaluation_at)


def _call(session: Session, draw: Draw, code: str, position: int, expert_id: str, now: datetime) -> Call:
    expert = get_row(session, Expert, uuid.UUID(expert_id))
    call = Call(
        draw_id=draw.id,
        specialty_code=code,
        position=position,
        expert_sealed=expert_pool.cipher().seal(CALL_PURPOSE, str(expert.id).encode()),
        expert_tag=expert_tag(expert.id),
        called_at=now,
        deadline=_deadline(draw, now),
    )
    session.add(call)
    session.flush()
    when = local(draw.evaluation_at).strftime("%Y-%m-%d %H:%M")
    answer_by = local(call.deadline).strftime("%Y-%m-%d %H:%M")
    # Time and place only: which tender stays undisclosed until the expert enters the room (R-E4).
    body = (
        f"您被抽取参加评标：{when}（北京时间），地点：{draw.evaluation_place}。"
        f"请于 {answer_by} 前登录平台答复（/experts/calls/{call.id}）。\n"
        f"You are called to an evaluation on {when} (Beijing time) at {draw.evaluation_place}. "
        f"Answer by {answer_by} on the platform (/experts/calls/{call.id})."
    )
    spoken = (
        f"您好，这里是阳光招采平台。您被抽取参加评标，时间是北京时间{when}，地点是{draw.evaluation_place}。"
        f"请在{answer_by}之前登录平台答复是否参加。"
    )
    messages = [("email", expert.email, body)] if expert.email else []
    if expert.phone:
        by_phone = (("sms", body), ("voice", spoken))
        messages += [(channel, expert.phone, text) for channel, text in by_phone if channel in CHANNELS]
    for channel, to, text in messages:
        # Sealed at rest in the outbox (R-E4): who is called is known only while sending.
        queue(
            session,
            channel=channel,
            to=to,
            subject="评标邀请 / Evaluation call",
            body=text,
            user_id=expert.user_id,
            confidential=True,
        )
    return call


def start(session: Session, draw: Draw, actor: User | None, ip: str | None = None) -> list[Call]:
    """Call the first ``count`` of each specialty's drawn list (the rest are backups)."""
    chosen = draws.result(draw)["selected"]
    now = clock.now()
    calls = []
    for code in sorted(chosen):
        seats = draw.criteria["specialties"][code]
        for position, expert_id in enumerate(chosen[code][:seats], start=1):
            calls.append(_call(session, draw, code, position, expert_id, now))
    audit.record(session, actor, "experts.calls_started", draw, {"calls": len(calls)}, ip)
    return calls


def _call_next(session: Session, draw: Draw, code: str, actor: User | None, ip: str | None) -> Call | None:
    chosen = draws.result(draw)["selected"][code]
    position = (
        session.scalar(
            select(func.max(Call.position)).where(Call.draw_id == draw.id, Call.specialty_code == code)
        )
        or 0
    )
    if position < len(chosen):
        return _call(session, draw, code, position + 1, chosen[position], clock.now())
    missing = draw.criteria["specialties"][code] - accepted(session, draw, code)
    waiting = session.scalar(
        select(func.count())
        .select_from(Call)
        .where(Call.draw_id == draw.id, Call.specialty_code == code, Call.status == "pending")
    )
    if missing > waiting:
        draw.shortfall = {**(draw.shortfall or {}), code: missing - waiting}
        audit.record(
            session, actor, "experts.draw_list_exhausted", draw, {"specialty": code, "missing": missing}, ip
        )
    return None


def accepted(session: Session, draw: Draw, code: str | None = None) -> int:
    query = select(func.count()).select_from(Call).where(Call.draw_id == draw.id, Call.status == "accepted")
    if code is not None:
        query = query.where(Call.specialty_code == code)
    return session.scalar(query) or 0


def _check_formed(session: Session, draw: Draw, actor: User | None, ip: str | None) -> None:
    seats = draw.criteria["specialties"]
    if draw.formed_at is None and all(accepted(session, draw, code) >= n for code, n in seats.items()):
        draw.formed_at = clock.now()
        # R-E1: the sizes were checked when the draw was requested; here every seat is filled.
        audit.record(
            session,
            actor,
            "experts.committee_formed",
            draw,
            {"experts": sum(seats.values()), "tenderee_representatives": draw.tenderee_representatives},
            ip,
        )


def calls_for(session: Session, draw: Draw) -> list[Call]:
    return list(session.scalars(select(Call).where(Call.draw_id == draw.id).order_by(Call.called_at)))


def my_calls(session: Session, user: User) -> list[Call]:
    expert = expert_pool.expert_for_user(session, user)
    return list(
        session.scalars(
            select(Call).where(Call.expert_tag == expert_tag(expert.id)).order_by(Call.called_at.desc())
        )
    )


def my_call(session: Session, user: User, call_id: uuid.UUID) -> tuple[Call, Draw]:
    """A call addressed to ``user``'s expert profile; anyone else gets 404 (and learns nothing)."""
    call = session.get(Call, call_id)
    expert = session.scalar(select(Expert).where(Expert.user_id == user.id))
    if call is None or expert is None or call.expert_tag != expert_tag(expert.id):
        raise NotFound(_l("No such call."), code="call_not_found")
    return call, get_row(session, Draw, call.draw_id)


def answer(
    session: Session,
    actor: User,
    call_id: uuid.UUID,
    *,
    accept: bool,
    reason: str = "",
    ip: str | None = None,
) -> Call:
    """Accept, or decline with a reason; once, before the deadline, by the called expert only."""
    call, draw = my_call(session, actor, call_id)
    now = clock.now()
    if call.status != "pending":
        raise Conflict(_l("This call has already been answered."), code="call_already_answered")
    if now >= call.deadline:
        # The refusal rolls back the request; moving on to the next expert is kept.
        error = Conflict(_l("The time to answer this call has passed."), code="call_expired")
        raise error.keep(lambda s: expire_due(s, now))
    reason = reason.strip()[:300]
    if not accept and not reason:
        raise Invalid(_l("Give a reason for declining."), code="decline_reason_required")
    call.status, call.answered_at, call.reason = ("accepted" if accept else "declined"), now, reason
    audit.record(
        session,
        actor,
        "experts.call_answered",
        call,
        {"accepted": accept},
        ip,
        sealed=permissions.committee_scope(draw.tender_id),
    )
    if accept:
        _check_formed(session, draw, actor, ip)
    else:
        _call_next(session, draw, call.specialty_code, actor, ip)
    session.flush()
    return call


def expire_due(session: Session, now: datetime | None = None) -> int:
    """Unanswered calls past their deadline: the next expert is called. Idempotent (beat job)."""
    now = now or clock.now()
    due = session.scalars(select(Call).where(Call.status == "pending", Call.deadline <= now)).all()
    for call in due:
        call.status, call.answered_at = "expired", now
        audit.record(session, None, "experts.call_expired", call, {}, None)
        _call_next(session, get_row(session, Draw, call.draw_id), call.specialty_code, None, None)
    session.flush()
    return len(due)


def seated(session: Session, user: User, tender_id: uuid.UUID) -> bool:
    """Whether ``user`` has a seat on the tender's committee now (the evaluation package answers; the
    room is linked from the call only then)."""
    check = current_app.extensions.get("sunbid.seated")
    return bool(check and check(session, user, tender_id))


def call_json(session: Session, user: User, call: Call, draw: Draw) -> dict:
    """An expert's call as the expert sees it: when, where, by when to answer; the room once seated
    (the tender stays undisclosed until then, R-E4)."""
    room = call.status == "accepted" and seated(session, user, draw.tender_id)
    return {
        "id": str(call.id),
        "status": call.status,
        "evaluation_at": draw.evaluation_at.isoformat(),
        "evaluation_place": draw.evaluation_place,
        "deadline": call.deadline.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "room": f"/evaluation/{draw.tender_id}" if room else None,
    }
