"""The award notice (中标通知书, to the winner) and the result notice (中标结果公告, to the other bidders and
the public) as PDFs signed by the platform (R-A3, R-R2), made when the tenderee decides.

Both are in Chinese, the official language of the record, with the CJK font embedded like the report;
``document`` returns a notice's bytes for archives and proofs.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy.orm import Session

from accounts import pki
from accounts.models import Organization
from bidding.calendar import last_day
from bidding.models import Bid, Tender
from core import clock, pdfsign
from core.db import get_row
from core.errors import NotFound
from core.money import yuan_text
from core.storage import file_store
from evaluation.models import Award, Publicity
from evaluation.report_pdf import find_font

AWARD, RESULT = "award", "result"
KINDS = (AWARD, RESULT)


def _render(title: str, lines: list[tuple[str, str]], closing: str, code: str) -> bytes:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_compression(True)
    pdf.add_font("cjk", fname=find_font(current_app.config.get("REPORT_FONT")))
    pdf.set_title(f"{code} {title}")
    pdf.set_creator("SunBid")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    next_line: dict[str, Any] = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    pdf.set_font("cjk", size=18)
    pdf.cell(pdf.epw, 14, title, align="C", **next_line)
    pdf.set_font("cjk", size=10)
    pdf.cell(pdf.epw, 6, code, align="C", **next_line)
    pdf.ln(6)
    pdf.set_font("cjk", size=11)
    for label, value in lines:
        pdf.multi_cell(pdf.epw, 7, f"{label}：{value}", **next_line)
    pdf.ln(6)
    pdf.multi_cell(pdf.epw, 7, closing, **next_line)
    return bytes(pdf.output())


def _facts(session: Session, tender: Tender, award: Award) -> dict[str, Any]:
    bid = get_row(session, Bid, award.winner_bid_id)
    publicity = get_row(session, Publicity, tender.id)  # the award row refers to it
    price = next((c["price_fen"] for c in publicity.candidates if c["bid"] == str(bid.id)), None)
    return {
        "winner": get_row(session, Organization, bid.organization_id).name,
        "tenderee": get_row(session, Organization, tender.tenderee_id).name,
        "agency": get_row(session, Organization, tender.agency_id).name,
        "price": f"{yuan_text(price)} 元" if price is not None else "—",
        "decided": clock.local(award.decided_at).strftime("%Y-%m-%d"),
        "contract_by": last_day(award.contract_due_at).isoformat(),
        "candidates": publicity.candidates,
    }


def render(session: Session, tender: Tender, award: Award, kind: str) -> bytes:
    """The unsigned notice of ``kind`` (award or result)."""
    f = _facts(session, tender, award)
    head = [
        ("项目编号", tender.code),
        ("项目名称", tender.title),
        ("招标人", f["tenderee"]),
        ("招标代理", f["agency"]),
    ]
    if kind == AWARD:
        return _render(
            "中标通知书",
            [*head, ("中标人", f["winner"]), ("中标价", f["price"]), ("定标日期", f["decided"])],
            f"请于 {f['contract_by']} 前（含当日，R-A3）与招标人订立书面合同。",
            tender.code or "",  # every tender is numbered when drafted (the column allows none)
        )
    ranked = "；".join(
        f"第{c['rank']}名 {c['tenderer']}" for c in sorted(f["candidates"], key=lambda c: c["rank"])
    )
    return _render(
        "中标结果公告",
        [
            *head,
            ("中标候选人", ranked),
            ("中标人", f["winner"]),
            ("中标价", f["price"]),
            ("定标日期", f["decided"]),
        ],
        "对结果有异议的，可依法提出投诉（R-A4）。未中标投标人的投标保证金依规退还。",
        tender.code or "",
    )


def issue(session: Session, tender: Tender, award: Award) -> None:
    """Render, sign (PAdES) and keep both notices; their hashes go on the award (R-R2)."""
    signer = pki.document_signer(session)
    for kind in KINDS:
        pdf = pdfsign.sign(
            render(session, tender, award, kind),
            signer,
            field_name="SunBid",
            reason=f"{tender.code} {'中标通知书' if kind == AWARD else '中标结果公告'}",
            location="SunBid",
        )
        setattr(award, f"{kind}_notice_sha256", file_store().put_bytes(pdf).sha256)


def document(session: Session, tender: Tender, kind: str) -> bytes:
    """A signed notice's bytes (for archives and proofs)."""
    award = session.get(Award, tender.id)
    digest = getattr(award, f"{kind}_notice_sha256", None) if award and kind in KINDS else None
    if digest is None:
        raise NotFound(_l("No such notice."), code="notice_not_found")
    return file_store().path_for(digest).read_bytes()
