"""Aggregating the experts' sheets into totals, a ranking and candidates, with the flags a committee must
look at, and score review (复核) as a pure step from one aggregation to the next.

Plain dataclasses in, plain dataclasses out: no database, so the committee room, the report and the
benchmarks all call the same functions. Scores are integer hundredths (see evaluation.formulas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from evaluation.formulas import (
    average_benchmark_scores,
    benchmark_price,
    div_round,
    lowest_valid_price_scores,
)

MAX_CANDIDATES = 3  # R-V6 (条例53)
DEVIATION_PERCENT = 20  # an expert's subjective score this far (of the item's range) from the others'
# A review may change a score after aggregation only for these reasons (R-V4, 87号令64).
REVIEW_REASONS = ("summation_error", "score_out_of_range", "objective_inconsistent", "abnormal_score")
# Flags that leave the result unusable until a review resolves them; an abnormal score is only a prompt.
BLOCKING = frozenset({"missing_score", "summation_error", "score_out_of_range", "objective_inconsistent"})


@dataclass(frozen=True)
class Criterion:
    key: str
    part: str  # qualification | technical | commercial
    kind: str  # pass_fail | subjective | objective
    max_points: int = 0  # hundredths
    min_points: int = 0
    blind: bool = False  # 暗标评审: scored without the bidder's identity
    name: str = ""
    guidance: str = ""  # 评分标准: what earns the points, shown beside the input on the score sheet

    @property
    def scored(self) -> bool:
        return self.kind in ("subjective", "objective")


@dataclass(frozen=True)
class PriceRule:
    formula: str  # lowest_valid | average_benchmark | none (lowest-price method)
    full_points: int = 0  # hundredths
    above_per_percent: int = 0
    below_per_percent: int = 0
    coefficients: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class Scheme:
    method: str  # comprehensive | lowest_price
    criteria: tuple[Criterion, ...]
    price: PriceRule

    def criterion(self, key: str) -> Criterion:
        for item in self.criteria:
            if item.key == key:
                return item
        raise KeyError(key)


@dataclass(frozen=True)
class BidEntry:
    key: str
    name: str
    price_fen: int  # the price evaluated (after R-V5)
    valid: bool = True  # opened and not rejected for another reason


@dataclass(frozen=True)
class Sheet:
    """One expert's sheet: pass/fail per bid and criterion, points per bid and criterion, and the totals
    the expert wrote down (optional; a mismatch is a summation error)."""

    expert: str
    passes: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    points: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    declared_totals: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Flag:
    code: str
    bid: str | None = None
    criterion: str | None = None
    expert: str | None = None
    detail: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class BidResult:
    key: str
    name: str
    price_fen: int
    valid: bool
    qualified: bool
    failed: tuple[str, ...]  # qualification criteria a majority failed
    dissent: tuple[tuple[str, str], ...]  # (criterion, expert) in the minority on pass/fail
    items: Mapping[str, int]  # mean points per scored criterion (rounded, for display)
    technical: int
    commercial: int
    price_score: int
    total: int
    rank: int | None = None
    tied: bool = False  # equal total and price with a neighbour: R-V3 cannot separate them


@dataclass(frozen=True)
class Aggregation:
    scheme: Scheme
    bids: tuple[BidEntry, ...]
    sheets: tuple[Sheet, ...]
    coefficient: Decimal | None
    benchmark_fen: int | None
    results: tuple[BidResult, ...]  # ranked first, in rank order, then the others
    flags: tuple[Flag, ...]
    candidates: tuple[str, ...]
    limit: int = MAX_CANDIDATES

    @property
    def blocked(self) -> bool:
        return any(flag.code in BLOCKING for flag in self.flags)

    def result(self, key: str) -> BidResult:
        return next(r for r in self.results if r.key == key)


def _qualification(scheme: Scheme, bid: str, sheets: Sequence[Sheet], flags: list[Flag]):
    failed: list[str] = []
    dissent: list[tuple[str, str]] = []
    for criterion in scheme.criteria:
        if criterion.kind != "pass_fail":
            continue
        votes = {}
        for sheet in sheets:
            vote = sheet.passes.get(bid, {}).get(criterion.key)
            if vote is None:
                flags.append(Flag("missing_score", bid, criterion.key, sheet.expert))
                vote = False
            votes[sheet.expert] = vote
        passed = sum(votes.values()) * 2 > len(votes)  # the committee decides by majority
        if not passed:
            failed.append(criterion.key)
        dissent.extend((criterion.key, expert) for expert, vote in votes.items() if vote != passed)
    return tuple(failed), tuple(dissent)


def _scores(scheme: Scheme, bid: str, sheets: Sequence[Sheet], flags: list[Flag]):
    """Sum per part over experts, and the display mean per item; flags on the way (R-V4 reasons)."""
    count = len(sheets)
    part_sums = {"technical": 0, "commercial": 0}
    items = {}
    own_sums = dict.fromkeys((s.expert for s in sheets), 0)
    for criterion in scheme.criteria:
        if not criterion.scored:
            continue
        values = []
        for sheet in sheets:
            value = sheet.points.get(bid, {}).get(criterion.key)
            if value is None:
                flags.append(Flag("missing_score", bid, criterion.key, sheet.expert))
                value = criterion.min_points
            elif not criterion.min_points <= value <= criterion.max_points:
                flags.append(
                    Flag("score_out_of_range", bid, criterion.key, sheet.expert, (("points", value),))
                )
            values.append(value)
            own_sums[sheet.expert] += value
        total = sum(values)
        part_sums[criterion.part] += total
        items[criterion.key] = div_round(total, count)
        if criterion.kind == "objective":
            if len(set(values)) > 1:
                detail = tuple((s.expert, v) for s, v in zip(sheets, values, strict=True))
                flags.append(Flag("objective_inconsistent", bid, criterion.key, None, detail))
        elif count > 1:
            spread = criterion.max_points - criterion.min_points
            for sheet, value in zip(sheets, values, strict=True):
                # |value - mean of the others| > 20% of the range, in integers: both sides x (n-1) x 100
                gap = abs(value * (count - 1) - (total - value))
                if gap * 100 > DEVIATION_PERCENT * spread * (count - 1):
                    flags.append(
                        Flag("abnormal_score", bid, criterion.key, sheet.expert, (("points", value),))
                    )
    for sheet in sheets:
        declared = sheet.declared_totals.get(bid)
        if declared is not None and declared != own_sums[sheet.expert]:
            detail = (("declared", declared), ("sum", own_sums[sheet.expert]))
            flags.append(Flag("summation_error", bid, None, sheet.expert, detail))
    return (
        div_round(part_sums["technical"], count),
        div_round(part_sums["commercial"], count),
        items,
    )


def aggregate(
    scheme: Scheme,
    bids: Sequence[BidEntry],
    sheets: Sequence[Sheet],
    *,
    coefficient: Decimal | None = None,
    candidates: int = MAX_CANDIDATES,
) -> Aggregation:
    """Totals, ranking (R-V3), candidates (R-V6) and flags from every expert's sheet.

    Subjective items are averaged over the experts (none dropped, R-V2); objective items must agree, and
    a disagreement is flagged for review (R-V4). Only valid, qualified bids are priced and ranked."""
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise ValueError(f"between 1 and {MAX_CANDIDATES} candidates (R-V6)")
    if not sheets:
        raise ValueError("no sheets to aggregate")
    flags: list[Flag] = []
    partial = {}
    for bid in bids:
        failed, dissent = _qualification(scheme, bid.key, sheets, flags)
        qualified = bid.valid and not failed
        if scheme.method == "comprehensive" and qualified:
            technical, commercial, items = _scores(scheme, bid.key, sheets, flags)
        else:
            technical, commercial, items = 0, 0, {}
        partial[bid.key] = (bid, qualified, failed, dissent, technical, commercial, items)

    priced = {key: p[0].price_fen for key, p in partial.items() if p[1]}
    benchmark = None
    rule = scheme.price
    if rule.formula == "lowest_valid":
        price_scores = lowest_valid_price_scores(priced, rule.full_points)
    elif rule.formula == "average_benchmark" and priced:
        if coefficient is None or (rule.coefficients and coefficient not in rule.coefficients):
            raise ValueError("the average-price benchmark needs a coefficient drawn from the scheme's")
        benchmark = benchmark_price(list(priced.values()), coefficient)
        price_scores = average_benchmark_scores(
            priced, rule.full_points, benchmark, rule.above_per_percent, rule.below_per_percent
        )
    else:
        price_scores = {}

    results = []
    for key, (bid, qualified, failed, dissent, technical, commercial, items) in partial.items():
        price_score = price_scores.get(key, 0)
        results.append(
            BidResult(
                key,
                bid.name,
                bid.price_fen,
                bid.valid,
                qualified,
                failed,
                dissent,
                items,
                technical,
                commercial,
                price_score,
                technical + commercial + price_score,
            )
        )
    ranked, ranked_flags = rank(scheme, results)
    flags.extend(ranked_flags)
    chosen = tuple(r.key for r in ranked if r.rank is not None)[:candidates]
    return Aggregation(
        scheme,
        tuple(bids),
        tuple(sheets),
        coefficient,
        benchmark,
        tuple(ranked),
        tuple(flags),
        chosen,
        candidates,
    )


def rank(scheme: Scheme, results: Sequence[BidResult]) -> tuple[list[BidResult], list[Flag]]:
    """R-V3: by total score, ties to the lower price; the lowest-price method ranks by price alone.
    Bids equal on both are marked tied (the committee must separate them) and flagged."""
    eligible = [r for r in results if r.qualified]
    if scheme.method == "lowest_price":
        order = sorted(eligible, key=lambda r: (r.price_fen, r.key))
        same = lambda a, b: a.price_fen == b.price_fen  # noqa: E731
    else:
        order = sorted(eligible, key=lambda r: (-r.total, r.price_fen, r.key))
        same = lambda a, b: (a.total, a.price_fen) == (b.total, b.price_fen)  # noqa: E731
    flags = []
    ranked = []
    for index, result in enumerate(order):
        after_previous = index > 0 and same(order[index - 1], result)
        before_next = index + 1 < len(order) and same(order[index + 1], result)
        if after_previous:
            flags.append(Flag("tie_unresolved", result.key, None, None, (("with", order[index - 1].key),)))
        ranked.append(replace(result, rank=index + 1, tied=after_previous or before_next))
    others = [r for r in results if not r.qualified]
    return ranked + others, flags


def flag_json(flag: Flag) -> dict:
    return {
        "code": flag.code,
        "bid": flag.bid,
        "criterion": flag.criterion,
        "expert": flag.expert,
        "detail": dict(flag.detail),
    }


# -- score review (复核, R-V4) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """One recorded correction: the expert's score for a bid and criterion becomes ``points``. For a
    summation error without a wrong item (criterion None), the expert's declared total is corrected."""

    reason: str
    expert: str
    bid: str
    criterion: str | None
    points: int | None
    note: str = ""


class ReviewRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _matching_flag(aggregation: Aggregation, review: Review) -> bool:
    for flag in aggregation.flags:
        if flag.code != review.reason or flag.bid != review.bid:
            continue
        if review.reason == "objective_inconsistent":
            if flag.criterion == review.criterion:
                return True
        elif review.reason == "summation_error":
            if flag.expert == review.expert:
                return True
        elif flag.expert == review.expert and flag.criterion == review.criterion:
            return True
    return False


def apply_review(aggregation: Aggregation, review: Review) -> tuple[Aggregation, dict]:
    """R-V4: change a score after aggregation only for an allowed reason that the aggregation actually
    shows (the flag must be there); returns the new aggregation and an audit-ready diff."""
    if review.reason not in REVIEW_REASONS:
        raise ReviewRefused("review_reason_not_allowed", f"{review.reason!r} is not a review reason (R-V4)")
    if not review.note.strip():
        raise ReviewRefused("review_note_required", "a review records why")
    if not _matching_flag(aggregation, review):
        raise ReviewRefused("review_not_flagged", "the aggregation shows no such problem to review")
    sheet = next((s for s in aggregation.sheets if s.expert == review.expert), None)
    if sheet is None:
        raise ReviewRefused("review_unknown_expert", "no sheet from that expert")
    if review.criterion is None:
        if review.reason != "summation_error":
            raise ReviewRefused("review_criterion_required", "name the criterion to correct")
        old = sheet.declared_totals.get(review.bid)
        totals = {k: v for k, v in sheet.declared_totals.items() if k != review.bid}
        new_sheet = replace(sheet, declared_totals=totals)
        new = None
    else:
        try:
            criterion = aggregation.scheme.criterion(review.criterion)
        except KeyError as exc:
            raise ReviewRefused("review_unknown_criterion", "no such criterion") from exc
        if not criterion.scored:
            raise ReviewRefused("review_not_a_score", "a pass/fail judgement is not a score to review")
        if review.points is None or not criterion.min_points <= review.points <= criterion.max_points:
            raise ReviewRefused("review_out_of_range", "the corrected score is outside the item's range")
        old = sheet.points.get(review.bid, {}).get(review.criterion)
        bid_points = {**sheet.points.get(review.bid, {}), review.criterion: review.points}
        new_sheet = replace(sheet, points={**sheet.points, review.bid: bid_points})
        new = review.points
    sheets = tuple(new_sheet if s is sheet else s for s in aggregation.sheets)
    after = aggregate(
        aggregation.scheme,
        aggregation.bids,
        sheets,
        coefficient=aggregation.coefficient,
        candidates=aggregation.limit,
    )
    changed_totals = [
        {"bid": b.key, "before": b.total, "after": after.result(b.key).total}
        for b in aggregation.results
        if b.total != after.result(b.key).total
    ]
    remaining = set(after.flags)
    diff = {
        "rule": "R-V4",
        "reason": review.reason,
        "note": review.note,
        "expert": review.expert,
        "bid": review.bid,
        "criterion": review.criterion,
        "before": old,
        "after": new,
        "totals": changed_totals,
        "ranking": {
            "before": [r.key for r in aggregation.results if r.rank is not None],
            "after": [r.key for r in after.results if r.rank is not None],
        },
        "candidates": {"before": list(aggregation.candidates), "after": list(after.candidates)},
        "flags_resolved": [flag_json(f) for f in aggregation.flags if f not in remaining],
    }
    return after, diff
