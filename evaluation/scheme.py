"""Scoring schemes (评分办法): the one parser from JSON to ``aggregation.Scheme``.

What the agency sends, what is stored and what is read back all pass through ``parse_scheme``, so a
stored scheme is always one that validates. Every problem names the item it is about (``criteria[2]``,
``price.points``) and, where a rule decides it, the rule id.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from evaluation.aggregation import Criterion, PriceRule, Scheme
from evaluation.formulas import POINT, points, show_points

METHODS = ("comprehensive", "lowest_price")
PARTS = ("qualification", "technical", "commercial")
KINDS = ("pass_fail", "subjective", "objective")
FORMULAS = ("lowest_valid", "average_benchmark")
SUBJECTS = ("goods", "services", "works")
TOTAL_POINTS = 100 * POINT
# R-V2 (87号令55): the price weight in procurement's comprehensive scoring is at least this share.
PRICE_MINIMUM = {"goods": 30 * POINT, "services": 10 * POINT}
MAX_CRITERIA = 200
MAX_GUIDANCE = 2000  # characters of guidance per criterion


class SchemeProblems(ValueError):
    """The scheme is invalid; ``problems`` says where and why (rendered as a 422 by the API)."""

    message = _l("The scoring scheme has problems: see details.")

    def __init__(self, problems: list[dict]) -> None:
        super().__init__(problems)
        self.problems = problems


def _points(value: Any, where: str, problems: list[dict]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        problems.append({"item": where, "code": "invalid_points"})
        return None
    try:
        # Through str(): 0.1 from JSON is the decimal 0.1, not the nearest binary float.
        return points(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        problems.append({"item": where, "code": "invalid_points"})
        return None


def _criterion(raw: Any, where: str, method: str, problems: list[dict]) -> Criterion | None:
    if not isinstance(raw, dict):
        problems.append({"item": where, "code": "invalid_criterion"})
        return None
    key = str(raw.get("key") or "").strip()
    name = str(raw.get("name") or "").strip()
    part, kind = raw.get("part"), raw.get("kind")
    found = len(problems)
    if not 1 <= len(key) <= 20:
        problems.append({"item": where, "field": "key", "code": "invalid_key"})
    if not 1 <= len(name) <= 200:
        problems.append({"item": where, "key": key, "field": "name", "code": "name_required"})
    if part not in PARTS:
        problems.append({"item": where, "key": key, "field": "part", "code": "invalid_part"})
    if kind not in KINDS:
        problems.append({"item": where, "key": key, "field": "kind", "code": "invalid_kind"})
    elif kind != "pass_fail" and (part == "qualification" or method == "lowest_price"):
        # Qualification is pass/fail; the lowest-price method scores nothing but the price (R-V3).
        problems.append({"item": where, "key": key, "field": "kind", "code": "pass_fail_only"})
    blind = raw.get("blind", False)
    if not isinstance(blind, bool) or (blind and part != "technical"):
        problems.append({"item": where, "key": key, "field": "blind", "code": "blind_technical_only"})
    low: int | None = 0
    high: int | None = 0
    if kind in ("subjective", "objective"):
        low = _points(raw.get("min_points", 0), f"{where}.min_points", problems)
        high = _points(raw.get("max_points"), f"{where}.max_points", problems)
        if low is not None and high is not None and not 0 <= low < high:
            problems.append({"item": where, "key": key, "field": "max_points", "code": "invalid_range"})
    guidance = raw.get("guidance") or ""
    if not isinstance(guidance, str) or len(guidance) > MAX_GUIDANCE:
        problems.append({"item": where, "key": key, "field": "guidance", "code": "guidance_too_long"})
    if len(problems) > found:
        return None
    return Criterion(key, str(part), str(kind), high or 0, low or 0, blind, name, guidance.strip())


def _coefficients(raw: Any, problems: list[dict]) -> tuple[Decimal, ...]:
    values = []
    if isinstance(raw, list) and raw:
        for item in raw:
            try:
                value = Decimal(str(item))
            except InvalidOperation:
                value = None
            if (
                value is None
                or isinstance(item, bool)
                or not 0 < value <= 1
                or value.as_tuple().exponent < -4  # type: ignore[operator]
            ):
                break
            values.append(value.normalize())
        else:
            if len(set(values)) == len(values) and len(values) <= 50:
                return tuple(sorted(values))
    problems.append({"item": "price.coefficients", "code": "invalid_coefficients"})
    return ()


def _price(raw: Any, method: str, track: str, subject: str, problems: list[dict]) -> PriceRule:
    if method == "lowest_price":
        if raw not in (None, {}) and (not isinstance(raw, dict) or raw.get("formula") not in (None, "none")):
            problems.append({"item": "price", "code": "no_price_score", "rule": "R-V3"})
        return PriceRule("none")
    if not isinstance(raw, dict):
        problems.append({"item": "price", "code": "price_required"})
        return PriceRule("none")
    formula = raw.get("formula")
    if formula not in FORMULAS:
        problems.append({"item": "price.formula", "code": "invalid_formula"})
        return PriceRule("none")
    if track == "procurement" and formula != "lowest_valid":
        problems.append({"item": "price.formula", "code": "lowest_valid_price_required", "rule": "R-V2"})
    full = _points(raw.get("points"), "price.points", problems)
    if full is not None and full <= 0:
        problems.append({"item": "price.points", "code": "invalid_points"})
    minimum = PRICE_MINIMUM.get(subject) if track == "procurement" else None
    if full is not None and minimum is not None and full < minimum:
        problems.append(
            {
                "item": "price.points",
                "code": "price_weight_below_minimum",
                "rule": "R-V2",
                "minimum": show_points(minimum),
            }
        )
    above = below = 0
    coefficients: tuple[Decimal, ...] = ()
    if formula == "average_benchmark":
        coefficients = _coefficients(raw.get("coefficients"), problems)
        above = _points(raw.get("above_per_percent"), "price.above_per_percent", problems) or 0
        below = _points(raw.get("below_per_percent", 0), "price.below_per_percent", problems) or 0
        if above <= 0:
            problems.append({"item": "price.above_per_percent", "code": "invalid_points"})
        if below < 0:
            problems.append({"item": "price.below_per_percent", "code": "invalid_points"})
    return PriceRule(formula, full or 0, above, below, coefficients)


def parse_scheme(data: Any, track: str) -> tuple[Scheme, str]:
    """The scheme and its subject (goods/services/works), or SchemeProblems listing every problem."""
    problems: list[dict] = []
    if not isinstance(data, dict):
        raise SchemeProblems([{"item": "scheme", "code": "invalid_scheme"}])
    method = data.get("method")
    if method not in METHODS:
        problems.append({"item": "method", "code": "invalid_method"})
        method = "comprehensive"
    subject = str(data.get("subject") or ("works" if track == "works" else ""))
    if subject not in SUBJECTS or (track == "works" and subject != "works"):
        # Procurement must say goods or services: R-V2's price-weight minimum depends on it.
        problems.append({"item": "subject", "code": "invalid_subject", "rule": "R-V2"})
    raw_criteria = data.get("criteria")
    if not isinstance(raw_criteria, list) or len(raw_criteria) > MAX_CRITERIA:
        problems.append({"item": "criteria", "code": "invalid_criteria"})
        raw_criteria = []
    criteria, seen = [], set()
    for number, raw in enumerate(raw_criteria):
        criterion = _criterion(raw, f"criteria[{number}]", method, problems)
        if criterion is None:
            continue
        if criterion.key in seen:
            problems.append({"item": f"criteria[{number}]", "key": criterion.key, "code": "duplicate_key"})
        seen.add(criterion.key)
        criteria.append(criterion)
    price = _price(data.get("price"), method, track, subject, problems)
    if method == "comprehensive" and not problems:
        total = sum(c.max_points for c in criteria) + price.full_points
        if total != TOTAL_POINTS:
            problems.append({"item": "criteria", "code": "points_not_100", "total": show_points(total)})
    if problems:
        raise SchemeProblems(problems)
    return Scheme(method, tuple(criteria), price), subject


def scheme_json(scheme: Scheme, subject: str) -> dict:
    """The canonical JSON of a scheme: what is stored and what GET returns; parse_scheme reads it back."""
    body: dict[str, Any] = {
        "method": scheme.method,
        "subject": subject,
        "criteria": [
            {
                "key": c.key,
                "name": c.name,
                "part": c.part,
                "kind": c.kind,
                **(
                    {"min_points": show_points(c.min_points), "max_points": show_points(c.max_points)}
                    if c.scored
                    else {}
                ),
                "blind": c.blind,
                **({"guidance": c.guidance} if c.guidance else {}),
            }
            for c in scheme.criteria
        ],
    }
    price = scheme.price
    if price.formula != "none":
        body["price"] = {"formula": price.formula, "points": show_points(price.full_points)}
        if price.formula == "average_benchmark":
            body["price"].update(
                coefficients=[str(c) for c in price.coefficients],
                above_per_percent=show_points(price.above_per_percent),
                below_per_percent=show_points(price.below_per_percent),
            )
    return body
