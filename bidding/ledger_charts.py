"""Pictures of the deposit ledger, drawn as inline SVG on the server (no script; the CSP stays strict).

``balance``: the trial balance as two bars of equal length when the books balance, debits above and
credits below, each split by kind of account. ``escrow``: the money held in escrow over time, one step
per entry. ``holdings``: a tenderer's deposits on one time axis, each from payment to refund (or now),
with the interest it earned. Words come in from the caller, already translated.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from bidding import ledger
from bidding.ledger_view import Entry, StatementRow, TrialBalance
from core.money import yuan_text
from core.present import when

WIDTH, LEFT, RIGHT = 760, 150, 20
COLOURS = {
    "escrow": "#1f6feb",
    "owed": "#c2410c",
    "interest": "#15803d",
    "late": "#b45309",
    "forfeited": "#7c3aed",
    "other": "#9aa5b1",
}


def yuan(fen: int) -> str:
    """Compact for a chart's labels: "¥1,234.50" in both languages (integer arithmetic, core.money)."""
    return f"¥{yuan_text(fen)}"


def group(account: str) -> str:
    if account == ledger.ESCROW:
        return "escrow"
    if account.startswith("deposit:"):
        return "owed"
    return {ledger.INTEREST: "interest", ledger.LATE: "late", ledger.FORFEITED: "forfeited"}.get(
        account, "other"
    )


def _open(height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" class="chart ledger-chart"'
        f' role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]


def balance(tb: TrialBalance, words: dict[str, str]) -> str:
    """``words``: debits, credits, title, and a name for each group in COLOURS."""
    top = max(tb.debit_fen, tb.credit_fen, 1)
    left = 90
    scale = (WIDTH - left - RIGHT - 130) / top  # room on the right for the totals
    sides: dict[str, dict[str, int]] = {"debits": {}, "credits": {}}
    for row in tb.rows:
        for side, amount in (("debits", row.debit_fen), ("credits", row.credit_fen)):
            if amount:
                sides[side][group(row.account)] = sides[side].get(group(row.account), 0) + amount
    used = [g for g in COLOURS if any(g in s for s in sides.values())]
    height = 110 + 20 * ((len(used) + 3) // 4)
    parts = _open(height, words["title"])
    for n, (side, total) in enumerate((("debits", tb.debit_fen), ("credits", tb.credit_fen))):
        y, x = 14 + 40 * n, float(left)
        parts.append(
            f'<text x="{left - 8}" y="{y + 17}" font-size="14" text-anchor="end">{escape(words[side])}</text>'
        )
        for name in COLOURS:
            amount = sides[side].get(name, 0)
            if not amount:
                continue
            w = amount * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="26" fill="{COLOURS[name]}">'
                f"<title>{escape(words[name])}: {yuan(amount)}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 8:.1f}" y="{y + 18}" font-size="14" font-weight="600">{yuan(total)}</text>'
        )
    for n, name in enumerate(used):
        lx, ly = left + (n % 4) * 160, 104 + 22 * (n // 4)
        parts.append(
            f'<rect x="{lx}" y="{ly - 11}" width="13" height="13" fill="{COLOURS[name]}"/>'
            f'<text x="{lx + 19}" y="{ly}" font-size="13">{escape(words[name])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def escrow(entries: list[Entry], now: datetime, title: str) -> str:
    """The escrow balance after each entry, as steps from the first entry to now."""
    points, held = [], 0
    for entry in entries:
        held += sum(line.amount_fen for line in entry.lines if line.account == ledger.ESCROW)
        points.append((entry.booked_at, held))
    if not points:
        return ""
    start, end = points[0][0], max(now, points[-1][0])
    span = (end - start).total_seconds() or 1
    top = max(max(abs(v) for _t, v in points), 1)
    height, base = 170, 130

    def x(moment: datetime) -> float:
        return 100 + (WIDTH - 100 - RIGHT) * (moment - start).total_seconds() / span

    def y(value: int) -> float:
        return base - 110 * value / top

    path, last = [f"M{x(start):.1f},{y(0):.1f}"], 0
    for moment, value in points:
        path.append(f"L{x(moment):.1f},{y(last):.1f} L{x(moment):.1f},{y(value):.1f}")
        last = value
    path.append(f"L{x(end):.1f},{y(last):.1f}")
    parts = _open(height, title)
    parts.append(
        f'<line x1="100" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#9aa5b1"/>'
        f'<path d="{" ".join(path)}" fill="none" stroke="{COLOURS["escrow"]}" stroke-width="2.5"/>'
        f'<text x="94" y="{y(top) + 4:.1f}" font-size="12" text-anchor="end">{yuan(top)}</text>'
        f'<text x="94" y="{base + 4}" font-size="12" text-anchor="end">¥0</text>'
    )
    for moment, value in points:
        parts.append(
            f'<circle cx="{x(moment):.1f}" cy="{y(value):.1f}" r="3.5" fill="{COLOURS["escrow"]}">'
            f"<title>{escape(when(moment))} · {yuan(value)}</title></circle>"
        )
    for moment in (start, end):
        anchor = "start" if moment == start else "end"
        parts.append(
            f'<text x="{x(moment):.1f}" y="{base + 18}" font-size="11" text-anchor="{anchor}">'
            f"{escape(when(moment, 'date'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def holdings(rows: list[StatementRow], now: datetime, words: dict[str, str]) -> str:
    """One bar per deposit from payment to refund (or now); ``words``: title, days (with %(n)s)."""
    if not rows:
        return ""
    ends = {id(r): (r.deposit.refunded_at or now if r.deposit.status == "refunded" else now) for r in rows}
    start = min(r.deposit.paid_at for r in rows)
    end = max(max(ends.values()), start)
    span = (end - start).total_seconds() or 1
    row_h = 30
    height = row_h * len(rows) + 36

    def x(moment: datetime) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT - 120) * (moment - start).total_seconds() / span

    parts = _open(height, words["title"])
    colours = {"held": "#1f6feb", "refund_due": "#b45309", "refunded": "#15803d", "forfeited": "#7c3aed"}
    for n, row in enumerate(rows):
        top = 8 + row_h * n
        x0 = x(row.deposit.paid_at)
        x1 = max(x(ends[id(row)]), x0 + 3)
        colour = colours.get(row.deposit.status, "#9aa5b1")
        label = f"{row.tender.code} · {row.deposit.lot_number}"
        parts.append(
            f'<text x="{LEFT - 8}" y="{top + 15}" font-size="12" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{x0:.1f}" y="{top + 3}" width="{x1 - x0:.1f}" height="16" rx="3" fill="{colour}">'
            f"<title>{escape(row.status_label)}</title></rect>"
            f'<text x="{x1 + 6:.1f}" y="{top + 15}" font-size="11">'
            f"{escape(words['days'] % {'n': row.days_held})} · +{yuan(row.interest_fen)}</text>"
        )
    axis = 8 + row_h * len(rows) + 4
    parts.append(f'<line x1="{LEFT}" y1="{axis}" x2="{x(end):.1f}" y2="{axis}" stroke="#9aa5b1"/>')
    for moment, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text x="{x(moment):.1f}" y="{axis + 16}" font-size="11" text-anchor="{anchor}">'
            f"{escape(when(moment, 'date'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
