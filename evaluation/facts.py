"""What the evaluation tells about each member, for the supervisor's post-evaluation review
(一标一评, R-R4): punctuality (check-in), time taken, abnormal-score flags, reviews of their scores,
withdrawal, and how they signed the report."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from bidding.models import Tender
from core.db import get_row
from core.errors import Conflict
from evaluation import scoring
from evaluation.models import EvaluationRoom, ReportSignature, RoomMember, ScoreReview, ScoreSheet


def member_facts(session: Session, tender: Tender) -> list[dict]:
    room = session.get(EvaluationRoom, tender.id)
    if room is None:
        return []
    try:
        result, _sheets, _void = scoring.aggregate_room(session, tender)
        flags = [f for f in result.flags if f.code == "abnormal_score"]
    except Conflict:  # not everyone has submitted yet: no flags to speak of
        flags = []
    reviews = session.scalars(select(ScoreReview).where(ScoreReview.tender_id == tender.id)).all()
    facts = []
    for member in session.scalars(select(RoomMember).where(RoomMember.tender_id == tender.id)):
        sheet = session.get(ScoreSheet, (tender.id, member.id))
        signature = session.scalar(
            select(ReportSignature).where(
                ReportSignature.tender_id == tender.id, ReportSignature.member_id == member.id
            )
        )
        taken = None
        if sheet is not None and sheet.submitted_at is not None and member.checked_in_at is not None:
            taken = int((sheet.submitted_at - member.checked_in_at).total_seconds() // 60)
        facts.append(
            {
                "user": str(member.user_id),
                "name": get_row(session, User, member.user_id).display_name,
                "kind": member.kind,
                "seated_at": room.seated_at.isoformat(),
                "checked_in_at": member.checked_in_at.isoformat() if member.checked_in_at else None,
                "check_in_ip": member.check_in_ip,
                "sheet_submitted_at": sheet.submitted_at.isoformat()
                if sheet and sheet.submitted_at
                else None,
                "minutes_to_submit": taken,
                "abnormal_scores": sum(1 for f in flags if f.expert == str(member.id)),
                "reviews_of_their_scores": sum(1 for r in reviews if r.member_id == member.id),
                "withdrew": member.replacement_reason,
                "report": signature.decision if signature else None,
                "chair": room.chair_id == member.user_id,
            }
        )
    return facts
