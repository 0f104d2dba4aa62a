"""Blind technical bids (暗标): the platform finds what could reveal a bidder in its decrypted technical
part, and reports where without quoting it (evaluation issue, item 4; ARCHITECTURE promise 4)."""

import json
import zipfile

from evaluation.identity_leaks import Bidder, scan

BIDDER = Bidder(name="北京建工集团有限公司", credit_code="91110106MA01A2B3C4")

CORE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{author}</dc:creator>
 <cp:lastModifiedBy>{editor}</cp:lastModifiedBy></cp:coreProperties>"""
APP = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">
<Company>{company}</Company></Properties>"""
BODY = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>{first}</w:t></w:r><w:r><w:t>{second}</w:t></w:r></w:p></w:body></w:document>"""


def docx(path, *, author="", editor="", company="", first="施工组织设计", second="第一章 工程概况"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("docProps/core.xml", CORE.format(author=author, editor=editor))
        z.writestr("docProps/app.xml", APP.format(company=company))
        z.writestr("word/document.xml", BODY.format(first=first, second=second))
    return path


def kinds(findings):
    return sorted((f.file, f.kind, f.field) for f in findings)


def test_a_clean_technical_part_has_no_findings(tmp_path):
    docx(tmp_path / "施工组织设计.docx")
    (tmp_path / "进度计划.txt").write_text("总工期 540 日历天。", encoding="utf-8")
    assert scan(tmp_path, BIDDER) == []


def test_office_metadata_and_a_name_split_across_runs(tmp_path):
    # Word splits text into runs: 北京建工 | 集团有限公司 must still be found.
    docx(
        tmp_path / "tech.docx",
        author="张伟",
        company="某公司",
        first="本投标人北京建工",
        second="集团有限公司承诺",
    )
    assert kinds(scan(tmp_path, BIDDER)) == [
        ("tech.docx", "metadata", "author"),
        ("tech.docx", "metadata", "company"),
        ("tech.docx", "name_in_text", "word/document.xml"),
    ]


def test_short_name_and_credit_code_in_chinese_encodings(tmp_path):
    (tmp_path / "说明.txt").write_bytes("我单位北京建工集团具有类似业绩。".encode("gb18030"))
    (tmp_path / "附件.bin").write_bytes(b"\x00\x01" + "91110106MA01A2B3C4".encode("utf-16-le"))
    assert kinds(scan(tmp_path, BIDDER)) == [
        ("说明.txt", "name_in_text", "text"),
        ("附件.bin", "credit_code_in_text", "text"),
    ]


def test_pdf_info_and_xmp_metadata(tmp_path):
    author = "<FEFF" + "张伟".encode("utf-16-be").hex().upper() + ">"
    pdf = (
        b"%PDF-1.7\n1 0 obj\n<< /Title (tech) /Author " + author.encode() + b" /Producer () >>\nendobj\n"
        b"2 0 obj\n<< /Type /Metadata >>\nstream\n<x:xmpmeta><dc:creator><rdf:Seq><rdf:li>ZW</rdf:li>"
        b"</rdf:Seq></dc:creator></x:xmpmeta>\nendstream\nendobj\n%%EOF\n"
    )
    (tmp_path / "tech.pdf").write_bytes(pdf)
    assert kinds(scan(tmp_path, BIDDER)) == [
        ("tech.pdf", "metadata", "author"),
        ("tech.pdf", "metadata", "xmp_creator"),
    ]


def test_findings_never_quote_the_identity(tmp_path):
    docx(tmp_path / "tech.docx", author="北京建工集团有限公司", first="北京建工集团有限公司")
    report = json.dumps([f.as_dict() for f in scan(tmp_path, BIDDER)], ensure_ascii=False)
    assert "metadata" in report and "北京建工" not in report and "9111" not in report


def test_oversized_office_members_are_reported_unchecked_not_read(tmp_path):
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "word/document.xml", "<w:t>北京建工集团有限公司</w:t>".encode() + b" " * (40 * 1024 * 1024)
        )
    # Bounded work: a 40 MiB member is not inflated, and the committee is told it went unchecked.
    assert kinds(scan(tmp_path, BIDDER)) == [("bomb.docx", "not_scanned", "word/document.xml")]
