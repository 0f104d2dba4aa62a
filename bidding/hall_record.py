"""The opening record as the hall reads it out and as a signed PDF (开标记录表, R-B7, R-R2).

``readout`` is the 唱标: the price sheets of the commercial parts in the order they opened, with the
total in figures and in words, the duration, quality and project manager each bidder wrote.
``issue`` renders the closed record in Chinese (the official language of the record, whoever closes it),
embeds the signed JSON record, signs the whole file with the platform's document key (PAdES, pyHanko via
core.pdfsign) and keeps it in the file store; Poppler's ``pdfsig`` and pyHanko's validator verify it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import pki
from accounts.models import Organization
from bidding.models import Bid, BidPart, Opening, PartOpening, Tender
from core import clock, pdfsign
from core.db import get_row
from core.money import fen_to_words, yuan_text
from core.pdffonts import find_font
from core.storage import file_store
from crypto import bidpack


@dataclass(frozen=True)
class Reading:
    """One price sheet read out at the opening (唱标)."""

    bid_id: str
    tenderer: str
    lot: int
    price_fen: int
    duration_days: int | None
    quality: str | None
    project_manager: str | None
    opened_at: datetime

    @property
    def words(self) -> str:
        return fen_to_words(self.price_fen)


def readout(session: Session, tender: Tender) -> list[Reading]:
    """The price sheets of the opened commercial parts of submitted bids, in the order they opened."""
    rows = session.execute(
        select(PartOpening, Bid)
        .join(BidPart, BidPart.id == PartOpening.part_id)
        .join(Bid, Bid.id == BidPart.bid_id)
        .where(
            Bid.tender_id == tender.id,
            Bid.status == "submitted",
            BidPart.part == "commercial",
            PartOpening.status == "ok",
        )
        .order_by(PartOpening.decrypted_at, Bid.id)
    ).all()
    out = []
    for opened, bid in rows:
        sheet = opened.price_sheet or {}
        if opened.price_fen is None:
            continue
        out.append(
            Reading(
                bid_id=str(bid.id),
                tenderer=get_row(session, Organization, bid.organization_id).name,
                lot=bid.lot_number,
                price_fen=opened.price_fen,
                duration_days=sheet.get("duration_days"),
                quality=sheet.get("quality"),
                project_manager=sheet.get("project_manager"),
                opened_at=opened.decrypted_at,
            )
        )
    return out


# The record's words, as printed (Chinese whatever the closer's language).
_DECRYPTION = {"ok": "已解密", "failed": "解密失败", "pending": "未解密"}
_PARTS = {"qualification": "资格", "technical": "技术", "commercial": "商务"}
_OUTCOME = {
    "opened": "有效开启",
    "revoked": "视为撤销（投标人原因）",
    "withdrawn": "视为撤回（非投标人原因）",
}
_DEPOSIT = {
    "held": "已缴纳",
    "refund_due": "待退还",
    "refunded": "已退还",
    "forfeited": "不予退还",
}
_DEPOSIT_KIND = {"money": "现金", "guarantee": "电子保函"}
_STATUS = {"closed": "开标结束", "decrypting": "解密中", "failed": "流标（投标人不足三家）"}


def _time(iso: str | None) -> str:
    if not iso:
        return "—"
    return clock.local(datetime.fromisoformat(iso.replace("Z", "+00:00"))).strftime("%Y-%m-%d %H:%M:%S")


def _line(pdf: FPDF, height: float, text: str) -> None:
    pdf.multi_cell(pdf.epw, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render(session: Session, tender: Tender, signed_record: str) -> bytes:
    """The 开标记录表 of ``signed_record`` (the JSON the platform signed) as an unsigned PDF."""
    document = json.loads(signed_record)
    record = document["record"]
    sheets = {r.bid_id: r for r in readout(session, tender)}
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_compression(True)
    pdf.add_font("cjk", fname=find_font(current_app.config.get("REPORT_FONT")))
    pdf.set_title(f"{tender.code} 开标记录表")
    pdf.set_creator("SunBid")
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(True, 12)
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(pdf.epw, 12, "开标记录表", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=10)
    head = [
        ("项目编号", tender.code or ""),
        ("项目名称", tender.title),
        ("招标人", get_row(session, Organization, tender.tenderee_id).name),
        ("招标代理", get_row(session, Organization, tender.agency_id).name),
        ("开标时间", _time(record["opened_at"])),
        ("解密截止", _time(record.get("decrypt_until"))),
        ("开标状态", _STATUS.get(record["status"], record["status"])),
        ("投标文件数", str(len(record["bids"]))),
    ]
    for label, value in head:
        _line(pdf, 6, f"{label}：{value}")
    pdf.ln(3)
    columns = (
        ("序号", 10),
        ("投标人", 46),
        ("标段", 10),
        ("投标报价（元）", 30),
        ("大写", 52),
        ("工期（天）", 20),
        ("质量", 24),
        ("项目经理", 18),
        ("解密情况", 26),
        ("保证金", 18),
        ("开启结果", 19),
    )
    pdf.set_font("cjk", size=8)
    with pdf.table(
        col_widths=[w for _name, w in columns],
        text_align="LEFT",
        line_height=5,
        headings_style=FontFace(emphasis=None, fill_color=(235, 235, 235)),
    ) as table:
        row = table.row()
        for name, _width in columns:
            row.cell(name)
        for n, bid in enumerate(record["bids"], start=1):
            sheet = sheets.get(bid["bid"])
            price = bid["price_fen"]
            deposit = bid.get("deposit")
            row = table.row()
            for value in (
                str(n),
                bid["tenderer"],
                str(bid["lot"]),
                yuan_text(price) if price is not None else "—",
                fen_to_words(price) if price is not None else "—",
                str(sheet.duration_days) if sheet and sheet.duration_days else "—",
                sheet.quality if sheet and sheet.quality else "—",
                sheet.project_manager if sheet and sheet.project_manager else "—",
                "；".join(
                    f"{_PARTS.get(part, part)}{_DECRYPTION.get(bid['decryption'][part], '')}"
                    for part in bidpack.PARTS
                    if part in bid["decryption"]
                ),
                f"{_DEPOSIT_KIND.get(deposit['kind'], deposit['kind'])}{_DEPOSIT.get(deposit['status'], '')}"
                if deposit
                else "—",
                _OUTCOME.get(bid["outcome"] or "", "—"),
            ):
                row.cell(value)
    reasons = [
        (b["tenderer"], b["outcome_reason"]) for b in record["bids"] if b.get("outcome") == "withdrawn"
    ]
    pdf.set_font("cjk", size=9)
    if reasons:
        pdf.ln(3)
        _line(pdf, 5, "非投标人原因解密失败的说明（R-B6）：")
        for name, reason in reasons:
            _line(pdf, 5, f"{name}：{reason}")
    pdf.ln(3)
    if record["objections"]:
        _line(pdf, 5, "开标现场异议及答复（R-B7）：")
        for o in record["objections"]:
            _line(pdf, 5, f"{o['raised_by'] or '—'}（{_time(o['raised_at'])}）：{o['text']}")
            _line(pdf, 5, f"答复（{_time(o['answered_at'])}）：{o['answer'] or '—'}")
    else:
        _line(pdf, 5, "开标现场异议：无")
    pdf.ln(3)
    pdf.set_font("cjk", size=7)
    _line(
        pdf,
        4,
        "本记录由平台以文件签名证书签署（PAdES）；所附 opening-record.json 为平台以 "
        f"{document['alg']} 密钥 {document['key_id']} 签名的同一记录，可离线核验。",
    )
    return bytes(pdf.output())


def issue(session: Session, tender: Tender, opening: Opening) -> str:
    """Render the closed record, sign it (PAdES) with the signed JSON inside, keep it; its SHA-256."""
    if opening.record is None:
        raise ValueError("the record is signed at closing, before its PDF")
    signed = pdfsign.sign(
        render(session, tender, opening.record),
        pki.document_signer(session),
        field_name="SunBid",
        reason=f"{tender.code} 开标记录表",
        location="SunBid",
        attachments=[
            pdfsign.Attachment(
                "opening-record.json",
                opening.record.encode(),
                "application/json",
                "开标记录（平台签名的 JSON）",
            )
        ],
    )
    return file_store().put_bytes(signed).sha256
