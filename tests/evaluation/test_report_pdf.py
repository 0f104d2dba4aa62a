"""The evaluation report PDF: a valid PDF with the CJK font embedded, in Chinese, with every section and
one signature line per member (R-V6)."""

import io
from datetime import date

import pytest
from flask_babel import force_locale

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
from evaluation.report_pdf import Dissent, Member, ReportFontMissing, find_font, render_report, report_from

try:
    find_font()
except ReportFontMissing:
    pytest.skip("no CJK font: scripts/test-deps.sh installs fonts-wqy-microhei", allow_module_level=True)

pypdf = pytest.importorskip("pypdf")

SCHEME = Scheme(
    "comprehensive",
    (
        Criterion("Q1", "qualification", "pass_fail", name="营业执照"),
        Criterion("T1", "technical", "subjective", 4000, name="施工组织设计"),
        Criterion("T2", "technical", "objective", 2000, name="类似工程业绩"),
    ),
    PriceRule("lowest_valid", 4000),
)
MEMBERS = [Member("张三", "组长"), Member("李四", "评标专家"), Member("王五", "评标专家")]


def report():
    bids = [
        BidEntry("A", "北京建工集团有限责任公司", 98_000_000),
        BidEntry("B", "中铁建设集团有限公司", 95_000_000),
        BidEntry("C", "上海宏达建筑有限公司", 91_000_000),
    ]
    sheets = [
        Sheet(
            expert,
            passes={"A": {"Q1": True}, "B": {"Q1": True}, "C": {"Q1": expert == "张三"}},
            points={
                "A": {"T1": 3500, "T2": 2000},
                "B": {"T1": 3000, "T2": t2},
                "C": {"T1": 2000, "T2": 1000},
            },
        )
        for expert, t2 in (("张三", 1500), ("李四", 1500), ("王五", 1000))
    ]
    before = aggregate(SCHEME, bids, sheets)
    after, diff = apply_review(
        before, Review("objective_inconsistent", "王五", "B", "T2", 1500, "核对业绩证明")
    )
    return report_from(
        after,
        tender_code="ZB-2026-000042",
        tender_title="市人民医院门诊楼改扩建工程施工",
        agency="阳光招标代理有限公司",
        tenderee="市人民医院",
        evaluated_on=date(2026, 11, 23),
        members=MEMBERS,
        reviews=[diff],
        dissent=[Dissent("张三", "认为上海宏达建筑有限公司资格条件满足要求。")],
    )


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_report_is_a_valid_pdf_in_chinese_with_every_section(app):
    data = report()
    with app.test_request_context(), force_locale("zh_CN"):
        pdf = render_report(data)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text = text_of(pdf)
    for expected in (
        "评标报告",
        "ZB-2026-000042",
        "市人民医院门诊楼改扩建工程施工",
        "评标委员会",
        "资格审查",
        "不通过：营业执照",  # C failed qualification by majority
        "营业执照: 张三",  # ... with 张三 in the minority
        "得分与排名",
        "中标候选人",
        "复核记录",
        "核对业绩证明",
        "不同意见",
        "认为上海宏达建筑有限公司资格条件满足要求。",
        "签字",
    ):
        assert expected in text, expected
    assert text.count("____________________") == len(MEMBERS)  # a signature line per member (R-V6)
    # C (the cheapest) failed qualification, so B's 950,000 yuan is the lowest valid price.
    # A: 35 + 20 + 40 x 950/980 (38.78) = 93.78; B after the review: 30 + 15 + 40 = 85.00.
    assert "93.78" in text and "85.00" in text
    assert data.candidates == ("A", "B")


def test_report_embeds_its_font():
    """The archived report (R-R2) must not depend on the reader's fonts."""
    reader = pypdf.PdfReader(io.BytesIO(render_report(report())))
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    descendants = [f["/DescendantFonts"][0].get_object() for f in fonts if "/DescendantFonts" in f]
    assert descendants and all("/FontFile2" in d["/FontDescriptor"] for d in descendants)


def test_missing_font_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("core.pdffonts.FONT_CANDIDATES", ())
    monkeypatch.delenv("SUNBID_REPORT_FONT", raising=False)
    with pytest.raises(ReportFontMissing):
        render_report(report(), font_path="/nonexistent.ttf")
