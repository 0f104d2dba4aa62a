"""The evaluation report (评标报告) as a PDF: tender, committee, qualification results, scores, ranking,
candidates (R-V6), reviews (R-V4), dissent notes and a signature line for every member.

Rendered from plain data (``ReportData``, built from an ``Aggregation`` by ``report_from``), so the
committee room, the archive (R-R2) and the benchmark share it. The CJK font is embedded (subset), so the
file reads the same on any machine for the 15 years it is archived; labels follow the active locale
(call inside ``flask_babel.force_locale('zh_CN')`` for the official Chinese report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core.money import yuan_text
from core.pdffonts import FONT_CANDIDATES, ReportFontMissing, find_font  # noqa: F401  (their old home)
from evaluation.aggregation import Aggregation, BidResult, Criterion
from evaluation.formulas import show_points


@dataclass(frozen=True)
class Member:
    name: str
    role: str  # as printed: 组长, 评标专家, 招标人代表 ...


@dataclass(frozen=True)
class Dissent:
    member: str
    text: str


@dataclass(frozen=True)
class SignatureLine:
    """How one member signed (R-V6): decision in words, reasons, Beijing time, and the method."""

    member: str
    role: str
    decision: str
    reasons: str
    signed_at: str
    method: str


@dataclass(frozen=True)
class ReportData:
    tender_code: str
    tender_title: str
    agency: str
    tenderee: str
    method: str  # comprehensive | lowest_price
    evaluated_on: date
    members: tuple[Member, ...]
    criteria: tuple[Criterion, ...]
    results: tuple[BidResult, ...]
    candidates: tuple[str, ...]
    benchmark_fen: int | None = None
    coefficient: Decimal | None = None
    reviews: tuple[dict, ...] = ()  # the diffs from aggregation.apply_review
    dissent: tuple[Dissent, ...] = ()
    opening_order: tuple[str, ...] = ()  # bid keys as in the opening record, for the qualification table
    signatures: tuple[SignatureLine, ...] = ()  # once every member has signed (the closed report)


def report_from(
    aggregation: Aggregation,
    *,
    tender_code: str,
    tender_title: str,
    agency: str,
    tenderee: str,
    evaluated_on: date,
    members: Sequence[Member],
    reviews: Sequence[dict] = (),
    dissent: Sequence[Dissent] = (),
    signatures: Sequence[SignatureLine] = (),
) -> ReportData:
    return ReportData(
        tender_code,
        tender_title,
        agency,
        tenderee,
        aggregation.scheme.method,
        evaluated_on,
        tuple(members),
        aggregation.scheme.criteria,
        aggregation.results,
        aggregation.candidates,
        aggregation.benchmark_fen,
        aggregation.coefficient,
        tuple(reviews),
        tuple(dissent),
        tuple(bid.key for bid in aggregation.bids),
        tuple(signatures),
    )


def _points_or_dash(value: int | None) -> str:
    return "-" if value is None else show_points(value)


def render_report(data: ReportData, font_path: str | None = None) -> bytes:
    class Report(FPDF):
        def footer(self) -> None:  # the tender and page on every page of the archived copy
            self.set_y(-10)
            self.set_font("cjk", size=8)
            self.cell(0, 5, f"{data.tender_code}  {self.page_no()}/{{nb}}", align="C")

    pdf = Report(orientation="portrait", unit="mm", format="A4")
    pdf.set_compression(True)
    pdf.add_font("cjk", fname=find_font(font_path))
    pdf.set_title(f"{data.tender_code} {_('Evaluation report')}")
    pdf.set_creator("SunBid")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(15, 15, 15)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw
    next_line: dict[str, Any] = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("cjk", size=12)
        pdf.cell(width, 8, text, **next_line)
        pdf.set_font("cjk", size=9)

    def fit(text: str, room: float) -> str:
        """Cut text to its cell by an estimate (CJK a full em, other characters about half): exact
        measuring of thousands of cells is what makes PDF tables slow."""
        em = pdf.font_size  # mm
        used, kept = 0.0, list[str]()
        for char in text:
            used += em if ord(char) >= 0x2E80 else em * 0.55
            if used > room - 1.5:
                return "".join(kept[:-1]) + "…"
            kept.append(char)
        return text

    def table(headings: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        """A ruled table of single-line cells; headings repeat after a page break."""
        height = 5.5

        def row(cells: Sequence[str], fill: bool) -> None:
            if pdf.y + height > pdf.page_break_trigger:
                pdf.add_page()
                if not fill:
                    row(headings, True)
            for text, cell_width in zip(cells, widths, strict=True):
                pdf.cell(cell_width, height, fit(text, cell_width), border=1, fill=fill)
            pdf.ln(height)

        pdf.set_fill_color(235, 235, 235)
        row(headings, True)
        for cells in rows:
            row(cells, False)

    pdf.set_font("cjk", size=16)
    pdf.cell(width, 10, _("Evaluation report"), align="C", **next_line)
    pdf.set_font("cjk", size=10)
    pdf.multi_cell(width, 6, f"{data.tender_code}  {data.tender_title}", align="C", **next_line)
    pdf.set_font("cjk", size=9)
    method = _("Comprehensive scoring") if data.method == "comprehensive" else _("Lowest-price method")
    for label, value in (
        (_("Agency"), data.agency),
        (_("Tenderee"), data.tenderee),
        (_("Scoring scheme"), method),
        (_("Evaluated on"), data.evaluated_on.isoformat()),
    ):
        pdf.cell(width, 5.5, f"{label}: {value}", **next_line)

    heading(_("Evaluation committee"))
    table([_("Member"), _("Role")], [(m.name, m.role) for m in data.members], (60, 120))

    heading(_("Qualification review"))
    names = {c.key: c.name or c.key for c in data.criteria}
    rows: list[Sequence[str]] = []
    position = {key: n for n, key in enumerate(data.opening_order)}
    for result in sorted(data.results, key=lambda r: (position.get(r.key, len(position)), r.key)):
        if not result.valid:
            outcome = _("Invalid bid")
        elif result.qualified:
            outcome = _("Passed")
        else:
            outcome = _("Failed: %(items)s", items=", ".join(names[k] for k in result.failed))
        minority = ", ".join(f"{names[c]}: {e}" for c, e in result.dissent)
        rows.append((result.name, outcome, minority))
    table([_("Tenderer"), _("Result"), _("Members in the minority")], rows, (60, 60, 60))

    if data.benchmark_fen is not None:
        heading(_("Benchmark price"))
        pdf.cell(
            width,
            5.5,
            _(
                "Benchmark %(benchmark)s yuan (mean of valid prices x coefficient %(coefficient)s)",
                benchmark=yuan_text(data.benchmark_fen),
                coefficient=str(data.coefficient),
            ),
            **next_line,
        )

    heading(_("Scores and ranking"))
    ranked = [r for r in data.results if r.rank is not None]
    if data.method == "comprehensive":
        rows = [
            (
                str(r.rank) + ("*" if r.tied else ""),
                r.name,
                yuan_text(r.price_fen),
                show_points(r.technical),
                show_points(r.commercial),
                show_points(r.price_score),
                show_points(r.total),
            )
            for r in ranked
        ]
        head = [
            _("Rank"),
            _("Tenderer"),
            _("Price (yuan)"),
            _("Technical"),
            _("Commercial"),
            _("Price score"),
            _("Total"),
        ]
        table(head, rows, (12, 52, 32, 20, 20, 24, 20))
        heading(_("Item scores (mean of the members), by rank"))
        scored = [c for c in data.criteria if c.scored]
        for first in range(0, len(ranked), 10):
            chunk = ranked[first : first + 10]
            rows = [[c.name or c.key] + [show_points(r.items.get(c.key, 0)) for r in chunk] for c in scored]
            head = [_("Item")] + [f"#{r.rank}" for r in chunk]
            table(head, rows, (50,) + (13,) * len(chunk))
            pdf.ln(2)
    else:
        rows = [(str(r.rank) + ("*" if r.tied else ""), r.name, yuan_text(r.price_fen)) for r in ranked]
        table([_("Rank"), _("Tenderer"), _("Price (yuan)")], rows, (20, 110, 50))

    heading(_("Candidates"))
    by_key = {r.key: r for r in data.results}
    rows = [
        (str(n), by_key[k].name, yuan_text(by_key[k].price_fen))
        for n, k in enumerate(data.candidates, start=1)
    ]
    table([_("Order"), _("Tenderer"), _("Price (yuan)")], rows or [("-", "-", "-")], (20, 110, 50))

    if data.reviews:
        heading(_("Score reviews"))
        rows = [
            (
                str(review["reason"]),
                f"{review['bid']} / {review.get('criterion') or '-'} / {review['expert']}",
                f"{_points_or_dash(review['before'])} -> {_points_or_dash(review['after'])}",
                str(review["note"]),
            )
            for review in data.reviews
        ]
        table([_("Reason"), _("Bid / item / member"), _("Change"), _("Note")], rows, (35, 55, 30, 60))

    heading(_("Dissenting opinions"))
    if data.dissent:
        for note in data.dissent:
            pdf.multi_cell(width, 5.5, f"{note.member}: {note.text}", **next_line)
    else:
        pdf.cell(width, 5.5, _("None recorded."), **next_line)

    heading(_("Signatures"))
    if data.signatures:
        rows = [(m.role, m.member, m.decision, m.signed_at, m.method) for m in data.signatures]
        table(
            [_("Role"), _("Member"), _("Decision"), _("Signed at"), _("Signing method")],
            rows,
            (24, 34, 30, 40, 52),
        )
        reasons = [m for m in data.signatures if m.reasons]
        if reasons:
            heading(_("Reasons given when signing"))
            for line in reasons:
                pdf.multi_cell(width, 5.5, f"{line.member} ({line.decision}): {line.reasons}", **next_line)
        pdf.ln(2)
        pdf.multi_cell(
            width,
            5,
            _(
                "Each member signed after a fresh second-factor code; members holding a platform "
                "certificate also signed the report's content (CMS), attached to this file. The platform "
                "signed the file (PAdES) when the report closed."
            ),
            **next_line,
        )
    else:
        for member in data.members:
            pdf.cell(
                width,
                10,
                f"{member.role} {member.name}: ____________________   {_('Date')}: ____________",
                **next_line,
            )
    return bytes(pdf.output())
