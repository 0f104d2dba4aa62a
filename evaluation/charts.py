"""Pictures of an evaluation, drawn as inline SVG on the server (no script; the CSP stays strict).

``score_spread``: per bid, each member's scored points (technical + commercial) as a dot on one line,
the spread between the lowest and the highest, and the mean; a member flagged for an abnormal score is
drawn in the warning colour. ``ranking``: the totals as bars, candidates highlighted.
"""

from __future__ import annotations

from html import escape

from flask_babel import gettext as _

from evaluation.aggregation import Aggregation

WIDTH, LEFT, RIGHT, ROW = 720, 200, 40, 30


def _x(value: float, top: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (value / top if top else 0)


def score_spread(result: Aggregation) -> str:
    scored = [c for c in result.scheme.criteria if c.scored]
    top = sum(c.max_points for c in scored) or 1
    flagged = {(f.bid, f.expert) for f in result.flags if f.code == "abnormal_score"}
    rows = [r for r in result.results if r.qualified]
    height = ROW * (len(rows) + 1) + 10
    summary = _("Spread of the members' scores per bid; the table below gives the totals.")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" class="chart" role="img"'
        f' aria-label="{escape(summary)}">',
        f'<line x1="{LEFT}" y1="{height - 18}" x2="{WIDTH - RIGHT}" y2="{height - 18}" stroke="#9aa5b1"/>',
    ]
    for tick in range(0, 11):
        value = top * tick / 10
        x = _x(value, top)
        parts.append(
            f'<text x="{x:.1f}" y="{height - 4}" font-size="10" text-anchor="middle" fill="#52606d">'
            f"{value / 100:g}</text>"
        )
    for n, row in enumerate(rows):
        y = ROW * n + 18
        sums = {
            sheet.expert: sum(sheet.points.get(row.key, {}).get(c.key, 0) for c in scored)
            for sheet in result.sheets
        }
        low, high = min(sums.values()), max(sums.values())
        mean = sum(sums.values()) / len(sums)
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 4}" font-size="12" text-anchor="end">'
            f"{escape(row.name[:16])}</text>"
            f'<line x1="{_x(low, top):.1f}" y1="{y}" x2="{_x(high, top):.1f}" y2="{y}"'
            ' stroke="#cbd2d9" stroke-width="6" stroke-linecap="round"/>'
        )
        for expert, value in sums.items():
            colour = "#b44d12" if (row.key, expert) in flagged else "#1f6feb"
            parts.append(
                f'<circle cx="{_x(value, top):.1f}" cy="{y}" r="4" fill="{colour}">'
                f"<title>{value / 100:g}</title></circle>"
            )
        parts.append(
            f'<path d="M{_x(mean, top):.1f},{y - 7} l5,7 l-5,7 l-5,-7 z" fill="#102a43">'
            f"<title>{mean / 100:.2f}</title></path>"
        )
    parts.append("</svg>")
    return "".join(parts)


def ranking(result: Aggregation) -> str:
    rows = [r for r in result.results if r.rank is not None]
    top = max((r.total for r in rows), default=1) or 1
    height = ROW * len(rows) + 10
    summary = "; ".join(f"{row.rank}. {row.name} {row.total / 100:.2f}" for row in rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" class="chart" role="img"'
        f' aria-label="{escape(summary)}">'
    ]
    for n, row in enumerate(rows):
        y = ROW * n + 5
        colour = "#1f6feb" if row.key in result.candidates else "#9aa5b1"
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{row.rank}. {escape(row.name[:14])}</text>"
            f'<rect x="{LEFT}" y="{y}" width="{_x(row.total, top) - LEFT:.1f}" height="18" fill="{colour}"/>'
            f'<text x="{_x(row.total, top) + 4:.1f}" y="{y + 14}" font-size="11">{row.total / 100:.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
