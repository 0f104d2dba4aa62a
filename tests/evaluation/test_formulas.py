"""Price formulas (R-V2 and the works benchmark) and price discrepancies (R-V5), each with a worked
example computed by hand in the test."""

from decimal import Decimal

import pytest

from evaluation.formulas import (
    PriceLine,
    Statement,
    average_benchmark_scores,
    benchmark_price,
    div_round,
    draw_coefficient,
    lowest_valid_price_scores,
    points,
    resolve_price,
    show_points,
    words_to_fen,
)

YUAN = 100  # fen


def test_points_are_exact_hundredths():
    assert points("12.5") == 1250
    assert points(30) == 3000
    assert show_points(2667) == "26.67"
    with pytest.raises(ValueError):
        points("1.005")


def test_div_round_rounds_half_up_once():
    assert div_round(5, 2) == 3
    assert div_round(7, 3) == 2
    assert div_round(-5, 2) == -2


def test_r_v2_lowest_valid_price_over_bid_price_times_full_score():
    """30 points for price; 800,000 yuan is lowest: 900,000 gets 800/900 x 30 = 26.666.. = 26.67,
    1,000,000 gets 24.00, the lowest gets the full 30.00."""
    prices = {"A": 800_000 * YUAN, "B": 1_000_000 * YUAN, "C": 900_000 * YUAN}
    assert lowest_valid_price_scores(prices, 3000) == {"A": 3000, "B": 2400, "C": 2667}


def test_works_benchmark_is_mean_times_drawn_coefficient():
    """Mean of 100,000 / 96,000 / 104,000 / 92,000 yuan is 98,000; x 0.97 = 95,060 yuan."""
    prices = [100_000 * YUAN, 96_000 * YUAN, 104_000 * YUAN, 92_000 * YUAN]
    assert benchmark_price(prices, Decimal("0.97")) == 95_060 * YUAN


def test_works_price_score_deducts_per_percent_above_and_below_with_floor_zero():
    """Benchmark 95,060 yuan, 40 points, 1 point per % above, 0.5 per % below.
    96,000: +940/95,060 = 0.989% -> -0.99 -> 39.01.  92,000: -3,060/95,060 = 3.219% x 0.5 = 1.61 -> 38.39.
    104,000: +9.405% -> -9.40 -> 30.60.  200,000: +110% -> floor 0.  At the benchmark: full 40."""
    benchmark = 95_060 * YUAN
    prices = {
        "at": benchmark,
        "above": 96_000 * YUAN,
        "below": 92_000 * YUAN,
        "far": 104_000 * YUAN,
        "huge": 200_000 * YUAN,
    }
    scores = average_benchmark_scores(prices, 4000, benchmark, 100, 50)
    assert scores == {"at": 4000, "above": 3901, "below": 3839, "far": 3060, "huge": 0}


def test_coefficient_draw_is_a_pure_function_of_the_seed():
    choices = [Decimal("0.95"), Decimal("0.96"), Decimal("0.97"), Decimal("0.98")]
    seed = b"signed opening record bytes"
    drawn = draw_coefficient(seed, choices)
    assert drawn in choices
    assert draw_coefficient(seed, list(reversed(choices))) == drawn  # order of listing does not matter
    assert {draw_coefficient(bytes([n]), choices) for n in range(64)} == set(choices)
    with pytest.raises(ValueError):
        draw_coefficient(seed, [])


@pytest.mark.parametrize(
    ("words", "fen"),
    [
        ("人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分", 123_456_789),
        ("壹亿贰仟万元整", 12_000_000_000),
        ("伍拾元零伍分", 5_005),
        ("拾万元整", 10_000_000),
        ("壹仟零伍元", 100_500),
        ("叁角", 30),
    ],
)
def test_r_v5_amounts_in_words(words, fen):
    assert words_to_fen(words) == fen


def test_r_v5_unreadable_words_fall_back_to_figures():
    resolution = resolve_price(Statement(1_000, "壹佰ABC元"))
    assert resolution.price_fen == 1_000
    assert not resolution.findings


def test_r_v5_price_sheet_beats_bid_body():
    resolution = resolve_price(Statement(123_456_789), Statement(120_000_000))
    assert resolution.price_fen == 123_456_789
    assert [f.code for f in resolution.findings] == ["price_sheet_over_body"]
    assert resolution.needs_confirmation


def test_r_v5_words_beat_figures():
    resolution = resolve_price(Statement(123_456_780, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"))
    assert resolution.price_fen == 123_456_789
    (finding,) = resolution.findings
    assert (finding.code, finding.used_fen, finding.instead_of_fen) == (
        "words_over_figures",
        123_456_789,
        123_456_780,
    )


def test_r_v5_totals_are_corrected_from_unit_prices():
    """120.50 yuan x 10 = 1,205.00 (written 1,250.00); 8.00 x 2.5 = 20.00; so the total is 1,225.00, not
    the 1,270.00 on the price sheet."""
    lines = [
        PriceLine("钢筋", 12_050, Decimal(10), 125_000),
        PriceLine("砂石", 800, Decimal("2.5"), 2_000),
    ]
    resolution = resolve_price(Statement(127_000), None, lines)
    assert resolution.price_fen == 122_500
    assert [(f.code, f.item, f.used_fen, f.instead_of_fen) for f in resolution.findings] == [
        ("line_total_from_unit_price", "钢筋", 120_500, 125_000),
        ("total_from_unit_prices", None, 122_500, 127_000),
    ]


def test_r_v5_corrections_apply_in_the_rules_order():
    """Body 1,300.00; sheet figures 1,270.00 but words 壹仟贰佰柒拾伍元 (1,275.00); lines sum to 1,225.00:
    the sheet's words beat its figures, the sheet beats the body, and the unit prices have the last word."""
    lines = [PriceLine("钢筋", 12_050, Decimal(10), 120_500), PriceLine("砂石", 800, Decimal("2.5"), 2_000)]
    resolution = resolve_price(Statement(127_000, "壹仟贰佰柒拾伍元"), Statement(130_000), lines)
    assert [f.code for f in resolution.findings] == [
        "words_over_figures",
        "price_sheet_over_body",
        "total_from_unit_prices",
    ]
    assert resolution.findings[1].used_fen == 127_500
    assert resolution.price_fen == 122_500


def test_consistent_prices_need_no_confirmation():
    resolution = resolve_price(Statement(100_000, "壹仟元整"), Statement(100_000))
    assert resolution.price_fen == 100_000
    assert not resolution.needs_confirmation
