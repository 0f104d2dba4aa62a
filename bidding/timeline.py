"""The tender's timeline from notice to award, drawn as inline SVG: the planned dates of the notice and
what actually happened, read from the audit log (the public milestones only: who did it stays there)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.models import AuditEntry
from bidding.models import Tender
from core import clock
from core.present import when

# Milestones anyone may see, by audit action; the first occurrence of each is drawn.
PUBLIC = {
    "bidding.tender_published": _l("Published"),
    "bidding.amendment_issued": _l("Amendment"),
    "bidding.clarification_issued": _l("Clarification"),
    "bidding.opening_started": _l("Opening"),
    "bidding.opening_closed": _l("Opening record signed"),
    "evaluation.committee_seated": _l("Committee seated"),
    "evaluation.report_closed": _l("Report signed"),
    "evaluation.candidates_published": _l("Candidates published"),
    "evaluation.award_decided": _l("Award"),
    "evaluation.contract_recorded": _l("Contract"),
}
PLANNED = (
    ("documents_from", _l("Documents out")),
    ("clarification_deadline", _l("Questions close")),
    ("objection_deadline", _l("Objections close")),
    ("bid_deadline", _l("Bid deadline")),
)


def events(session: Session, tender: Tender) -> list[tuple[datetime, str, bool]]:
    """(when, label, happened) in time order: the plan, then what the log says happened."""
    planned = [(getattr(tender, name), str(label), False) for name, label in PLANNED if getattr(tender, name)]
    seen, happened = set(), []
    for entry in session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_id == str(tender.id), AuditEntry.action.in_(PUBLIC))
        .order_by(AuditEntry.index)
    ):
        if entry.action in seen and entry.action not in (
            "bidding.amendment_issued",
            "bidding.clarification_issued",
        ):
            continue
        seen.add(entry.action)
        happened.append((entry.created_at, str(PUBLIC[entry.action]), True))
    return sorted(planned + happened, key=lambda e: e[0])


def svg(items: list[tuple[datetime, str, bool]], now: datetime | None = None) -> str:
    if not items:
        return ""
    now = now or clock.now()
    start, end = items[0][0], max(items[-1][0], now)
    span = (end - start).total_seconds() or 1
    width, left, right = 760, 20, 20

    def x(moment: datetime) -> float:
        return left + (width - left - right) * (moment - start).total_seconds() / span

    height = 60 + 16 * len(items)
    summary = "; ".join(f"{label} {when(moment)}" for moment, label, _done in items)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" role="img"'
        f' aria-label="{escape(summary)}">',
        f'<line x1="{left}" y1="30" x2="{width - right}" y2="30" stroke="#9aa5b1" stroke-width="2"/>',
        f'<line x1="{x(now):.1f}" y1="18" x2="{x(now):.1f}" y2="{height}"'
        ' stroke="#d64545" stroke-dasharray="3,3"/>',
    ]
    for n, (moment, label, happened) in enumerate(items):
        cx, ty = x(moment), 50 + 16 * n
        fill = "#1f6feb" if happened else "#fff"
        anchor = "end" if cx > width / 2 else "start"
        dx = -6 if anchor == "end" else 6
        parts.append(
            f'<circle cx="{cx:.1f}" cy="30" r="5" fill="{fill}" stroke="#1f6feb" stroke-width="2"/>'
            f'<line x1="{cx:.1f}" y1="35" x2="{cx:.1f}" y2="{ty - 4}" stroke="#d9e2ec"/>'
            f'<text x="{cx + dx:.1f}" y="{ty}" font-size="11" text-anchor="{anchor}">'
            f"{escape(label)} · {escape(when(moment, 'short'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
