"""Money in one place: integer fen (分) plus a currency code, never floats (ARCHITECTURE.md, "Money").

- ``parse_yuan("1,234,567.89")`` -> 123456789: what people type in forms (yuan, at most two decimals).
- ``parse_money({"amount_fen": 123, "currency": "CNY"}, "deposit")`` -> 123: what programs send.
- ``yuan_input(123456789)`` -> "1234567.89": a form field's value.
- ``format_money(123456789)`` -> "¥1,234,567.89" (zh_CN) / "CN¥1,234,567.89" (en): what pages show;
  in a template ``{{ amount_fen|money }}``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from core.errors import Invalid

CURRENCY = "CNY"
FEN = Decimal(100)


class AmountError(ValueError):
    """A typed amount that is not one; ``message`` is translatable and says what to type."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def parse_yuan(text: str | None) -> int | None:
    """Fen from an amount typed in yuan ("1,234.5" -> 123450); None when nothing was typed."""
    if text is None or not str(text).strip():
        return None
    cleaned = str(text).replace(",", "").replace("，", "").replace("¥", "").replace("￥", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise AmountError(_l("Type an amount in yuan, e.g. 1234567.89")) from exc
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise AmountError(_l("Type an amount in yuan with at most two decimals."))
    return int((value * FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_money(value: Any, field: str) -> int:
    """API money: {"amount_fen": int, "currency": "CNY"} (or a bare int); integers only, never floats."""
    amount = value.get("amount_fen") if isinstance(value, dict) else value
    if isinstance(value, dict) and value.get("currency", CURRENCY) != CURRENCY:
        raise Invalid(_l("Only CNY is supported."), code="unsupported_currency", details={"field": field})
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise Invalid(
            _l("Amounts are whole fen (integers)."), code="invalid_amount", details={"field": field}
        )
    return amount


def yuan_input(fen: int | None) -> str:
    """The value of a form field that takes yuan: plain digits, two decimals."""
    if fen is None:
        return ""
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


def yuan_text(fen: int) -> str:
    """Grouped yuan without a currency sign ("1,234,567.89"), for documents such as the PDF report."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def format_money(fen: int | None, currency: str = CURRENCY, locale: Any = None) -> str:
    """An amount as people read it in the page's language; "—" for none."""
    if fen is None:
        return "—"
    return format_currency(Decimal(fen) / FEN, currency, locale=str(locale or get_locale() or "zh_CN"))


_CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CAPITAL_PLACES = ("", "拾", "佰", "仟")
_CAPITAL_SECTIONS = ("", "万", "亿", "万亿")


def _capital_section(n: int) -> str:
    """0 < n < 10000 in capitals, with 零 for the gaps inside (1005: 壹仟零伍)."""
    out, gap = "", False
    for place in range(3, -1, -1):
        digit = n // 10**place % 10
        if digit == 0:
            gap = gap or bool(out)
            continue
        if gap:
            out, gap = out + "零", False
        out += _CAPITAL_DIGITS[digit] + _CAPITAL_PLACES[place]
    return out


def fen_to_words(fen: int) -> str:
    """An amount in Chinese capitals as price sheets and records write it (大写): 120030050 fen ->
    人民币壹佰贰拾万零叁佰元伍角整. The inverse of ``evaluation.formulas.words_to_fen``."""
    if fen < 0:
        raise ValueError("a negative amount has no capital form here")
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    sections = []
    while yuan:
        yuan, section = divmod(yuan, 10_000)
        sections.append(section)
    whole = ""
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if section == 0:
            continue
        # A zero between two sections, or a section under 1000 after a higher one, is read as 零.
        if whole and (section < 1000 or sections[index + 1] == 0):
            whole += "零"
        whole += _capital_section(section) + _CAPITAL_SECTIONS[index]
    text = "人民币" + (whole + "元" if whole else "")
    if not jiao and not cents:
        return text + ("" if whole else "零元") + "整"
    if jiao:
        text += _CAPITAL_DIGITS[jiao] + "角"
    elif whole:
        text += "零"
    return text + (_CAPITAL_DIGITS[cents] + "分" if cents else "整")
