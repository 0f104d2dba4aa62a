"""Aggregation of the experts' sheets: averages, ranking with ties to the lower price (R-V3), the
3-candidate cap (R-V6), flags, and score review for the allowed reasons only (R-V4)."""

from dataclasses import replace
from decimal import Decimal

import pytest

from evaluation.aggregation import (
    BidEntry,
    Criterion,
    PriceRule,
    Review,
    ReviewRefused,
    Scheme,
    Sheet,
    aggregate,
    apply_review,
)

P = 100  # hundredths per point
QUAL = Criterion("Q1", "qualification", "pass_fail", name="营业执照")
T1 = Criterion("T1", "technical", "subjective", 20 * P, name="施工方案")
T2 = Criterion("T2", "technical", "objective", 10 * P, name="类似业绩")
C1 = Criterion("C1", "commercial", "objective", 10 * P, name="付款条件")
SCHEME = Scheme("comprehensive", (QUAL, T1, T2, C1), PriceRule("lowest_valid", 60 * P))


def pts(value) -> int:
    return int(Decimal(str(value)) * P)


def sheet(expert, scores, passes=None, totals=None):
    """scores: {bid: (T1, T2, C1)} in points."""
    return Sheet(
        expert,
        passes={bid: {"Q1": (passes or {}).get(bid, True)} for bid in scores},
        points={bid: {"T1": pts(t1), "T2": pts(t2), "C1": pts(c1)} for bid, (t1, t2, c1) in scores.items()},
        declared_totals=totals or {},
    )


def codes(aggregation):
    return sorted({flag.code for flag in aggregation.flags})


def test_subjective_items_are_averaged_and_objective_items_taken_as_agreed():
    """T1 15, 16, 18 -> 16.33 shown; technical (15+16+18 + 3 x 8) / 3 = 73/3 = 24.33; commercial 5.
    The only bid is the lowest price: 60. Total 24.33 + 5 + 60 = 89.33."""
    sheets = [sheet(e, {"A": (t1, 8, 5)}) for e, t1 in (("e1", 15), ("e2", 16), ("e3", 18))]
    result = aggregate(SCHEME, [BidEntry("A", "甲公司", 1_000_000)], sheets)
    a = result.result("A")
    assert a.items == {"T1": 1633, "T2": 800, "C1": 500}
    assert (a.technical, a.commercial, a.price_score, a.total) == (2433, 500, 6000, 8933)
    assert not result.flags


def test_r_v2_highest_and_lowest_scores_are_not_dropped():
    """T1 from four experts: 10, 14, 15, 20 -> (10 + 14 + 15 + 20) / 4 = 14.75 (dropping 10 and 20 would
    give 14.50)."""
    sheets = [sheet(f"e{n}", {"A": (t1, 8, 5)}) for n, t1 in enumerate((10, 14, 15, 20))]
    assert aggregate(SCHEME, [BidEntry("A", "甲", 1)], sheets).result("A").items["T1"] == 1475


def test_r_v3_ties_go_to_the_lower_price():
    """A: 20 + 10 + 10 + 60 x 900/1000 (54) = 94.  B, the cheapest: 16 + 8 + 10 + 60 = 94. B ranks first."""
    bids = [BidEntry("A", "甲", 1_000_000), BidEntry("B", "乙", 900_000)]
    sheets = [sheet(e, {"A": (20, 10, 10), "B": (16, 8, 10)}) for e in ("e1", "e2", "e3")]
    result = aggregate(SCHEME, bids, sheets)
    assert result.result("A").total == result.result("B").total == 9400
    assert [r.key for r in result.results] == ["B", "A"]
    assert result.result("B").rank == 1 and not result.result("B").tied


def test_r_v3_equal_total_and_price_is_flagged_as_an_unresolved_tie():
    bids = [BidEntry("A", "甲", 1_000_000), BidEntry("B", "乙", 1_000_000)]
    sheets = [sheet(e, {"A": (15, 8, 5), "B": (15, 8, 5)}) for e in ("e1", "e2", "e3")]
    result = aggregate(SCHEME, bids, sheets)
    assert all(r.tied for r in result.results)
    assert "tie_unresolved" in codes(result)


def test_r_v3_lowest_price_method_ranks_by_price_among_qualified_bids():
    scheme = Scheme("lowest_price", (QUAL,), PriceRule("none"))
    bids = [BidEntry("A", "甲", 950_000), BidEntry("B", "乙", 900_000), BidEntry("C", "丙", 990_000)]
    votes = {"A": True, "B": False, "C": True}  # B fails qualification with every expert
    sheets = [Sheet(e, passes={k: {"Q1": v} for k, v in votes.items()}) for e in ("e1", "e2", "e3")]
    result = aggregate(scheme, bids, sheets)
    assert [r.key for r in result.results if r.rank] == ["A", "C"]
    assert result.result("B").failed == ("Q1",)
    assert result.candidates == ("A", "C")


def test_qualification_is_decided_by_majority_and_the_minority_is_kept_as_dissent():
    bids = [BidEntry("A", "甲", 1_000_000)]
    sheets = [sheet("e1", {"A": (15, 8, 5)}, passes={"A": False})] + [
        sheet(e, {"A": (15, 8, 5)}) for e in ("e2", "e3")
    ]
    a = aggregate(SCHEME, bids, sheets).result("A")
    assert a.qualified
    assert a.dissent == (("Q1", "e1"),)


def test_invalid_and_unqualified_bids_get_no_price_score_and_do_not_set_the_lowest_price():
    """C is cheapest but invalid: A (lowest of the rest, 900,000) gets the full 60."""
    bids = [BidEntry("A", "甲", 900_000), BidEntry("B", "乙", 1_000_000), BidEntry("C", "丙", 500_000, False)]
    sheets = [sheet(e, {k: (10, 5, 5) for k in "ABC"}) for e in ("e1", "e2", "e3")]
    result = aggregate(SCHEME, bids, sheets)
    assert result.result("A").price_score == 6000
    assert result.result("B").price_score == 5400
    assert result.result("C").rank is None and result.result("C").price_score == 0


def test_r_v6_at_most_three_candidates():
    bids = [BidEntry(k, k, 1_000_000 + n) for n, k in enumerate("ABCDE")]
    sheets = [sheet(e, {k: (10 + n, 5, 5) for n, k in enumerate("ABCDE")}) for e in ("e1", "e2", "e3")]
    result = aggregate(SCHEME, bids, sheets)
    assert result.candidates == ("E", "D", "C")
    assert aggregate(SCHEME, bids, sheets, candidates=1).candidates == ("E",)
    with pytest.raises(ValueError, match="R-V6"):
        aggregate(SCHEME, bids, sheets, candidates=4)


def test_works_benchmark_needs_the_drawn_coefficient():
    scheme = Scheme("comprehensive", (T1,), PriceRule("average_benchmark", 80 * P, 100, 50))
    bids = [BidEntry("A", "甲", 10_000_000), BidEntry("B", "乙", 9_000_000)]
    sheets = [Sheet("e1", points={"A": {"T1": 1000}, "B": {"T1": 1000}})]
    with pytest.raises(ValueError):
        aggregate(scheme, bids, sheets)
    with pytest.raises(ValueError):  # not one of the scheme's coefficients
        aggregate(
            replace(scheme, price=replace(scheme.price, coefficients=(Decimal("0.97"),))),
            bids,
            sheets,
            coefficient=Decimal("0.95"),
        )
    result = aggregate(scheme, bids, sheets, coefficient=Decimal("0.95"))
    # mean 9,500,000 x 0.95 = 9,025,000; B is 25,000 below: 0.277% x 0.5 = 0.14 -> 79.86
    assert result.benchmark_fen == 9_025_000
    assert result.result("B").price_score == 7986


def scores_for_t1(values):
    return [sheet(f"e{n}", {"A": (v, 8, 5)}) for n, v in enumerate(values, start=1)]


def abnormal(result):
    return [(f.expert, f.criterion) for f in result.flags if f.code == "abnormal_score"]


def test_flag_when_a_subjective_score_is_more_than_20_percent_of_the_range_from_the_others_mean():
    """T1 ranges over 20 points, so 20% is 4.00. Others 12, 12 (mean 12) and 16.00: exactly 4.00 away, no
    flag. Others 11.99, 11.99 and 16.00: 4.01 away, flagged (and only that expert)."""
    bids = [BidEntry("A", "甲", 1_000_000)]
    at_boundary = aggregate(SCHEME, bids, scores_for_t1([12, 12, 16]))
    assert abnormal(at_boundary) == []
    over = aggregate(SCHEME, bids, scores_for_t1([Decimal("11.99"), Decimal("11.99"), 16]))
    assert abnormal(over) == [("e3", "T1")]


def test_flag_inconsistent_objective_items_and_block_the_result():
    bids = [BidEntry("A", "甲", 1_000_000)]
    sheets = [sheet("e1", {"A": (15, 8, 5)}), sheet("e2", {"A": (15, 6, 5)}), sheet("e3", {"A": (15, 8, 5)})]
    result = aggregate(SCHEME, bids, sheets)
    (flag,) = [f for f in result.flags if f.code == "objective_inconsistent"]
    assert (flag.bid, flag.criterion, dict(flag.detail)) == ("A", "T2", {"e1": 800, "e2": 600, "e3": 800})
    assert result.blocked


def test_flag_scores_out_of_range_missing_scores_and_summation_errors():
    bids = [BidEntry("A", "甲", 1_000_000)]
    sheets = [
        sheet("e1", {"A": (25, 8, 5)}),  # T1 above its 20 points
        Sheet("e2", passes={"A": {"Q1": True}}, points={"A": {"T1": 1500, "T2": 800}}),  # C1 missing
        sheet("e3", {"A": (15, 8, 5)}, totals={"A": 2900}),  # 15 + 8 + 5 = 28, wrote 29
    ]
    result = aggregate(SCHEME, bids, sheets)
    found = {(f.code, f.expert) for f in result.flags}
    assert {("score_out_of_range", "e1"), ("missing_score", "e2"), ("summation_error", "e3")} <= found


# -- review (R-V4) -----------------------------------------------------------------------------------------


def inconsistent():
    bids = [BidEntry("A", "甲", 1_000_000), BidEntry("B", "乙", 950_000)]
    sheets = [
        sheet("e1", {"A": (18, 8, 5), "B": (15, 8, 5)}),
        sheet("e2", {"A": (18, 2, 5), "B": (15, 8, 5)}),
        sheet("e3", {"A": (18, 8, 5), "B": (15, 8, 5)}),
    ]
    return aggregate(SCHEME, bids, sheets)


def test_r_v4_review_for_an_allowed_reason_changes_the_score_and_returns_a_diff():
    """A's T2: 8, 2, 8 -> technical (54 + 18) / 3 = 24; A's total 24 + 5 + 57 = 86, B 23 + 5 + 60 = 88.
    Corrected to 8: A's technical 26, total 88, equal to B; B is cheaper (R-V3) and stays first."""
    before = inconsistent()
    assert before.result("A").total == 8600 and before.blocked
    review = Review("objective_inconsistent", "e2", "A", "T2", 800, note="业绩证明材料核对为4项")
    after, diff = apply_review(before, review)
    assert after.result("A").total == 8800 and not after.blocked
    assert diff["rule"] == "R-V4"
    assert (diff["before"], diff["after"]) == (200, 800)
    assert diff["totals"] == [{"bid": "A", "before": 8600, "after": 8800}]
    assert diff["ranking"] == {"before": ["B", "A"], "after": ["B", "A"]}
    assert [f["code"] for f in diff["flags_resolved"]] == ["objective_inconsistent"]


@pytest.mark.parametrize("reason", ["expert_changed_mind", "late_information", ""])
def test_r_v4_review_for_another_reason_is_refused(reason):
    with pytest.raises(ReviewRefused) as refused:
        apply_review(inconsistent(), Review(reason, "e2", "A", "T2", 800, note="x"))
    assert refused.value.code == "review_reason_not_allowed"


def test_r_v4_review_needs_the_problem_it_claims():
    """B's scores agree: an 'inconsistent objective item' review of B is refused."""
    with pytest.raises(ReviewRefused) as refused:
        apply_review(inconsistent(), Review("objective_inconsistent", "e2", "B", "T2", 600, note="x"))
    assert refused.value.code == "review_not_flagged"


def test_r_v4_review_cannot_create_an_out_of_range_score_or_go_unexplained():
    with pytest.raises(ReviewRefused) as refused:
        apply_review(inconsistent(), Review("objective_inconsistent", "e2", "A", "T2", 1100, note="x"))
    assert refused.value.code == "review_out_of_range"
    with pytest.raises(ReviewRefused) as refused:
        apply_review(inconsistent(), Review("objective_inconsistent", "e2", "A", "T2", 800, note=" "))
    assert refused.value.code == "review_note_required"


def test_r_v4_summation_error_is_corrected_by_dropping_the_wrong_declared_total():
    bids = [BidEntry("A", "甲", 1_000_000)]
    sheets = [sheet("e1", {"A": (15, 8, 5)}, totals={"A": 2900})] + [
        sheet(e, {"A": (15, 8, 5)}) for e in ("e2", "e3")
    ]
    after, diff = apply_review(
        aggregate(SCHEME, bids, sheets), Review("summation_error", "e1", "A", None, None, note="合计笔误")
    )
    assert not after.flags
    assert diff["before"] == 2900
