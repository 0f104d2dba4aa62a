"""The score sheet's rows as HTML, built in Python: a full sheet is thousands of inputs (9 experts x 60
bids x 40 criteria: 2,580 per member), and Jinja's per-expression escaping made the room page several
times slower than its 300 ms budget. Only the values that come from people (names, keys, entries) are
escaped; numbers and ids are the platform's own. Each input is named by its criterion's legend and its
row header (aria-labelledby) and described by the criterion's range line, as the template sets them up.
"""

from __future__ import annotations

from markupsafe import Markup, escape

TRANSLATE_NO = ' translate="no"'  # a blind code is not a word to translate


def qualification_rows(
    ci: int, key: str, bidders: list[dict], verdicts: dict, locked: bool, words: dict
) -> Markup:
    """Pass/fail with a reason, one row per bidder."""
    dis = " disabled" if locked else ""
    out = []
    k = escape(key)
    passed, failed = escape(words["pass"]), escape(words["fail"])
    for n, b in enumerate(bidders, start=1):
        v = (verdicts.get(b["id"]) or {}).get(key)
        ok = v is not None and v.get("pass")
        bad = v is not None and not v.get("pass")
        reason = escape(v.get("reason") or "") if v else ""
        row = f"r{ci}-{n}"
        out.append(
            f'<tr><th scope="row" id="{row}">{escape(b["name"])}</th>'
            f'<td><select id="q-{ci}-{n}" name="q|{b["id"]}|{k}" aria-labelledby="c{ci} {row}"{dis}>'
            f'<option value="">—</option><option value="pass"{" selected" if ok else ""}>{passed}</option>'
            f'<option value="fail"{" selected" if bad else ""}>{failed}</option></select></td>'
            f'<td><input id="r-{ci}-{n}" name="r|{b["id"]}|{k}" aria-labelledby="why-label {row}" '
            f'value="{reason}"{dis}></td></tr>'
        )
    return Markup("".join(out))  # noqa: S704 (every value above is escaped)


def score_rows(
    ci: int, key: str, rows: list[tuple[str, str, bool]], scores: dict, low, high, locked: bool
) -> Markup:
    """A number input per bid (``rows``: address, what the row shows, whether it is a blind code)."""
    dis = " disabled" if locked else ""
    out = []
    k = escape(key)
    for n, (address, shown, blind) in enumerate(rows, start=1):
        value = escape((scores.get(address) or {}).get(key, ""))
        row = f"r{ci}-{n}"
        out.append(
            f'<tr><th scope="row" id="{row}"{TRANSLATE_NO if blind else ""}>{escape(shown)}</th>'
            f'<td><input id="s-{ci}-{n}" name="s|{escape(address)}|{k}" type="number" step="0.01" '
            f'min="{low}" max="{high}" inputmode="decimal" aria-labelledby="c{ci} {row}" '
            f'aria-describedby="range-{ci}" value="{value}"{dis}></td></tr>'
        )
    return Markup("".join(out))  # noqa: S704 (every value above is escaped)
