"""What evaluation keeps in a tender's archive (R-R2, audit.archive): the signed report (its content and
PDF), the candidates' publicity, the award with its notices, and the contract."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from audit.archive import Member, json_member
from core.storage import file_store
from evaluation.models import Award, EvaluationReport, Publicity


def members(session: Session, tender_id) -> Iterator[Member]:
    from evaluation import award, report

    store = file_store()
    row = session.get(EvaluationReport, tender_id)
    if row is not None:
        yield json_member("evaluation/report.json", report.report_json(session, row))
        yield Member("evaluation/report.pdf", path=store.path_for(row.pdf_sha256))
    publicity = session.get(Publicity, tender_id)
    if publicity is not None:
        yield json_member(
            "award/candidates.json",
            {
                "published_at": publicity.published_at.isoformat(),
                "ends_at": publicity.ends_at.isoformat(),
                "candidates": publicity.candidates,
            },
        )
    decided = session.get(Award, tender_id)
    if decided is not None:
        yield json_member("award/award.json", award.award_json(session, decided))
        if decided.contract_sha256:
            yield Member("award/contract", path=store.path_for(decided.contract_sha256))
