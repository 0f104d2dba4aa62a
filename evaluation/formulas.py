"""Price formulas and price discrepancies: pure functions over plain values (no database, no Flask).

Units: money is integer fen; scores are integer hundredths of a point (``POINT`` = 100, so 30 points is
3000). Hundredths are what score sheets are written in, integers compare exactly (a ranking never turns
on float drift), and every division below rounds exactly once, half up, with ``div_round``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

POINT = 100  # hundredths of a point per point


def div_round(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (denominator > 0), in integers only."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


def points(value: Decimal | int | str) -> int:
    """A score written in points ("12.5") as hundredths (1250); more than two decimals is refused."""
    exact = Decimal(str(value)) * POINT
    if exact != exact.to_integral_value():
        raise ValueError(f"{value} has more than two decimals")
    return int(exact)


def show_points(hundredths: int) -> str:
    sign = "-" if hundredths < 0 else ""
    whole, frac = divmod(abs(hundredths), POINT)
    return f"{sign}{whole}.{frac:02d}"


# -- price scores --------------------------------------------------------------------------------------


def lowest_valid_price_scores(prices: Mapping[str, int], full: int) -> dict[str, int]:
    """R-V2 (87号令55, 低价优先法): lowest valid price / bid price x full price score."""
    if not prices:
        return {}
    lowest = min(prices.values())
    return {key: div_round(lowest * full, price) for key, price in prices.items()}


def benchmark_price(prices: Sequence[int], coefficient: Decimal) -> int:
    """Works average-price benchmark (评标基准价): mean of the valid prices x the drawn downward
    coefficient, rounded to the fen once."""
    ratio = Fraction(coefficient)
    return div_round(sum(prices) * ratio.numerator, len(prices) * ratio.denominator)


def average_benchmark_scores(
    prices: Mapping[str, int], full: int, benchmark: int, above_per_percent: int, below_per_percent: int
) -> dict[str, int]:
    """Works price score against the benchmark: a bid at the benchmark gets ``full``; each percent above
    it costs ``above_per_percent``, each percent below it ``below_per_percent`` (hundredths, pro rata for
    fractions of a percent, deviation measured against the benchmark); never below 0."""
    scores = {}
    for key, price in prices.items():
        rate = above_per_percent if price >= benchmark else below_per_percent
        deduction = div_round(rate * abs(price - benchmark) * 100, benchmark)
        scores[key] = max(0, full - deduction)
    return scores


COEFFICIENT_DOMAIN = b"sunbid/benchmark-coefficient/v1\x00"


def coefficient_seed(tender_id: str, prices: Mapping[str, int | None]) -> bytes:
    """The draw's seed: the tender and every opened bid's price as in the opening record (R-B7), as
    canonical JSON. Fixed once the decryption window closes, known to every bidder, chosen by nobody."""
    rows = sorted([bid, price] for bid, price in prices.items())
    return json.dumps({"tender": tender_id, "prices": rows}, separators=(",", ":")).encode()


def draw_coefficient(seed: bytes, choices: Sequence[Decimal]) -> Decimal:
    """The downward coefficient drawn at the opening from the scheme's choices.

    A pure function of a seed everybody at the opening sees (the signed opening record, R-B7), so any
    bidder can recompute it; nobody picks it. SHA-256 over a fixed domain prefix, reduced modulo the
    number of choices (a bias of < 2^-240 for any sane number of choices)."""
    if not choices:
        raise ValueError("no coefficient to draw from")
    ordered = sorted(choices)
    digest = hashlib.sha256(COEFFICIENT_DOMAIN + seed).digest()
    return ordered[int.from_bytes(digest, "big") % len(ordered)]


# -- price discrepancies (R-V5, 87号令59) ------------------------------------------------------------------

DIGITS = {
    "零": 0, "〇": 0, "壹": 1, "一": 1, "贰": 2, "二": 2, "两": 2, "叁": 3, "三": 3, "肆": 4, "四": 4,
    "伍": 5, "五": 5, "陆": 6, "六": 6, "柒": 7, "七": 7, "捌": 8, "八": 8, "玖": 9, "九": 9,
}  # fmt: skip
SMALL_UNITS = {"拾": 10, "十": 10, "佰": 100, "百": 100, "仟": 1000, "千": 1000}


def _chinese_integer(text: str) -> int:
    total = section = digit = 0
    for char in text:
        if char in DIGITS:
            digit = DIGITS[char]
        elif char in SMALL_UNITS:
            section += (digit or 1) * SMALL_UNITS[char]
            digit = 0
        elif char == "亿":
            total = (total + section + digit) * 100_000_000
            section = digit = 0
        elif char in ("万", "萬"):
            total += (section + digit) * 10_000
            section = digit = 0
        else:
            raise ValueError(f"not an amount in words: {char!r}")
    return total + section + digit


def words_to_fen(words: str) -> int:
    """An amount in Chinese capitals (人民币壹佰贰拾万零叁佰元伍角整) as fen; ValueError if unreadable."""
    text = "".join(words.split()).removeprefix("人民币").removeprefix("¥").rstrip("整正")
    if not text:
        raise ValueError("empty amount")
    yuan_text, sep, rest = text.replace("圆", "元").partition("元")
    if not sep:
        yuan_text, rest = "", text
    fen = _chinese_integer(yuan_text) * 100 if yuan_text else 0
    for unit, worth in (("角", 10), ("分", 1)):
        head, found, rest_after = rest.partition(unit)
        if found:
            digits = head.replace("零", "")
            if len(digits) != 1 or digits not in DIGITS:
                raise ValueError(f"unreadable {unit}")
            fen += DIGITS[digits] * worth
            rest = rest_after
    if rest.replace("零", ""):
        raise ValueError(f"unreadable tail {rest!r}")
    return fen


@dataclass(frozen=True)
class Statement:
    """A total as written in one place: in figures and, where given, in words (大写)."""

    figures_fen: int | None = None
    words: str | None = None


@dataclass(frozen=True)
class PriceLine:
    """One line of the itemised price: unit price x quantity should equal the line total."""

    item: str
    unit_price_fen: int
    quantity: Decimal
    total_fen: int


@dataclass(frozen=True)
class Finding:
    code: str
    used_fen: int
    instead_of_fen: int
    item: str | None = None


@dataclass(frozen=True)
class PriceResolution:
    price_fen: int | None
    findings: tuple[Finding, ...]

    @property
    def needs_confirmation(self) -> bool:
        """R-V5: a corrected price binds the bidder only once it confirms it."""
        return bool(self.findings)


def _stated(statement: Statement | None, where: str, findings: list[Finding]) -> int | None:
    if statement is None:
        return None
    figures = statement.figures_fen
    if statement.words:
        try:
            in_words = words_to_fen(statement.words)
        except ValueError:
            in_words = None
        if in_words is not None:
            if figures is not None and figures != in_words:
                findings.append(Finding("words_over_figures", in_words, figures, where))
            return in_words
    return figures


def resolve_price(
    sheet: Statement | None, body: Statement | None = None, lines: Sequence[PriceLine] = ()
) -> PriceResolution:
    """R-V5 (87号令59), applied in the rule's order: the opening price sheet beats the bid body; words
    beat figures; a line total that disagrees with unit price x quantity, and a total that disagrees
    with the lines, are corrected from the unit prices. Returns the price to evaluate and each finding."""
    findings: list[Finding] = []
    on_sheet = _stated(sheet, "price_sheet", findings)
    in_body = _stated(body, "bid_body", findings)
    price = on_sheet if on_sheet is not None else in_body
    if on_sheet is not None and in_body is not None and on_sheet != in_body:
        findings.append(Finding("price_sheet_over_body", on_sheet, in_body))
    if lines:
        summed = 0
        for line in lines:
            exact = Fraction(line.quantity) * line.unit_price_fen
            computed = div_round(exact.numerator, exact.denominator)
            if computed != line.total_fen:
                findings.append(Finding("line_total_from_unit_price", computed, line.total_fen, line.item))
            summed += computed
        if price is not None and summed != price:
            findings.append(Finding("total_from_unit_prices", summed, price))
        price = summed
    return PriceResolution(price, tuple(findings))
