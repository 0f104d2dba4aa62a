"""Evaluation speed: aggregating a large committee's sheets with flags, and rendering its report PDF.

    .venv/bin/python -m bench evaluation        (or: .venv/bin/python bench/evaluation.py [--experts 9] ...)

Builds 9 experts x 60 bids x 40 scored criteria (30 subjective technical items, 10 objective commercial
items, plus 3 pass/fail qualification items), with seeded random scores: some experts stray from the
others (abnormal-score flags) and some objective items disagree, so the flag paths run. Times
``aggregate`` (ranking, price scores, every flag; median of 7) against 200 ms, one ``apply_review`` for
information, and ``render_report`` for that committee's report (font loading and subsetting included:
every report loads it; median of 3 in a warm process, the first cold call with the fpdf2 import shown
for information) against 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from evaluation.aggregation import (
    BidEntry,
    Criterion,
    PriceRule,
    Review,
    Scheme,
    Sheet,
    aggregate,
    apply_review,
)

AGGREGATE_MS = 200
REPORT_S = 2.0


def committee(experts: int, bids: int, criteria: int, seed: int = 7):
    rng = random.Random(seed)
    subjective = criteria * 3 // 4
    items = [Criterion(f"Q{n}", "qualification", "pass_fail", name=f"资格条件{n}") for n in range(1, 4)]
    items += [
        Criterion(f"T{n}", "technical", "subjective", 200, name=f"技术评审项{n}")
        for n in range(1, subjective + 1)
    ]
    items += [
        Criterion(f"C{n}", "commercial", "objective", 100, name=f"商务评审项{n}")
        for n in range(1, criteria - subjective + 1)
    ]
    # 30 x 2 + 10 x 1 = 70 points of items, price 30.
    scheme = Scheme(
        "comprehensive",
        tuple(items),
        PriceRule("lowest_valid", 10_000 - 200 * subjective - 100 * (criteria - subjective)),
    )
    entries = [
        BidEntry(f"B{n:03d}", f"测试建设工程有限公司{n}", rng.randrange(80_000_000, 120_000_000))
        for n in range(bids)
    ]
    truth = {
        b.key: {c.key: rng.randrange(c.min_points, c.max_points + 1) for c in items if c.scored}
        for b in entries
    }
    sheets = []
    for e in range(experts):
        points, passes = {}, {}
        for bid in entries:
            own = {}
            for c in items:
                if not c.scored:
                    continue
                value = truth[bid.key][c.key]
                if c.kind == "subjective":
                    value = min(
                        c.max_points,
                        max(0, value + rng.randrange(-30, 31) + (80 if rng.random() < 0.01 else 0)),
                    )
                elif rng.random() < 0.002:
                    value = c.max_points - value
                own[c.key] = value
            points[bid.key] = own
            passes[bid.key] = {c.key: rng.random() > 0.01 for c in items if not c.scored}
        sheets.append(Sheet(f"专家{e + 1}", passes=passes, points=points))
    return scheme, entries, sheets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.evaluation")
    parser.add_argument("--experts", type=int, default=9)
    parser.add_argument("--bids", type=int, default=60)
    parser.add_argument("--criteria", type=int, default=40)
    args = parser.parse_args(argv)
    scheme, bids, sheets = committee(args.experts, args.bids, args.criteria)
    size = f"{args.experts} experts x {args.bids} bids x {args.criteria} criteria"

    runs = []
    for _ in range(7):
        start = time.perf_counter()
        result = aggregate(scheme, bids, sheets)
        runs.append(time.perf_counter() - start)
    agg_ms = statistics.median(runs) * 1000
    counts = {}
    for flag in result.flags:
        counts[flag.code] = counts.get(flag.code, 0) + 1
    print(f"aggregate {size}: {agg_ms:.1f} ms median of 7 (target <= {AGGREGATE_MS} ms); flags {counts}")

    flag = next((f for f in result.flags if f.code == "abnormal_score"), None)
    if flag is not None:
        start = time.perf_counter()
        apply_review(result, Review("abnormal_score", flag.expert, flag.bid, flag.criterion, 100, "复核"))
        print(
            f"apply_review (re-aggregates): {(time.perf_counter() - start) * 1000:.1f} ms (for information)"
        )

    from evaluation.report_pdf import Member, ReportFontMissing, render_report, report_from

    data = report_from(
        result,
        tender_code="ZB-2026-000001",
        tender_title="基准测试：市人民医院门诊楼改扩建工程施工",
        agency="阳光招标代理有限公司",
        tenderee="市人民医院",
        evaluated_on=date(2026, 11, 23),
        members=[Member(s.expert, "评标专家") for s in sheets],
    )
    try:
        start = time.perf_counter()
        pdf = render_report(data)
        cold = time.perf_counter() - start
        warm = []
        for _ in range(3):
            start = time.perf_counter()
            render_report(data)
            warm.append(time.perf_counter() - start)
    except ReportFontMissing as exc:
        print(f"report PDF: not measured ({exc})")
        return 1
    report_s = statistics.median(warm)
    print(
        f"report PDF for {size}: {report_s:.2f} s median of 3 (target <= {REPORT_S} s); "
        f"first call with the fpdf2 import {cold:.2f} s; {len(pdf) / 1024:.0f} KiB"
    )
    ok = agg_ms <= AGGREGATE_MS and report_s <= REPORT_S
    print("evaluation figures met" if ok else "evaluation figures NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
