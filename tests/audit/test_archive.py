"""Self-verifying tender archives (R-R2, issue 18 item 7): `flask archive export` writes one file with
everything the tender left behind and its audit entries, sealed in a witnessed checkpoint;
`python -m audit.verify_archive` checks it offline, without the platform, and refuses any changed byte."""

import hashlib
import json
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audit import cosign, log
from audit.models import AuditEntry
from audit.verify_archive import ArchiveRefused, verify_archive
from bidding.models import Opening, Tender
from core import clock
from core.storage import file_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def finished_tender(app, runner, session):
    """The demo tender, run from publication to the contract (bids, opening, report, award, contract)."""
    app.config["SANDBOX"] = True
    frozen = clock.now()
    clock.freeze(None)
    try:
        result = runner.invoke(args=["demo", "tender"])
    finally:
        clock.set_offset(timedelta(0))
        clock.freeze(frozen)
    assert result.exit_code == 0, result.output
    session.rollback()
    clock.freeze(session.scalar(select(func.max(AuditEntry.created_at))) + timedelta(minutes=1))  # demo's end
    return session.scalars(select(Tender)).one()


def test_r_r2_an_archive_verifies_offline_and_refuses_any_changed_byte(
    finished_tender, runner, session, tmp_path
):
    target = tmp_path / "tender.sunbid-archive"
    result = runner.invoke(args=["archive", "export", finished_tender.code, str(target)])
    assert result.exit_code == 0, result.output
    keys = [
        "--log-key",
        log.verifier().key_string(),
        "--witness-key",
        cosign.witness_verifiers()[0].key_string(),
    ]
    # offline: a process of its own that must not load Flask or reach the platform
    probe = (
        "import sys, runpy; sys.argv = ['verify_archive', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('audit.verify_archive', run_name='__main__')\n"
        "finally:\n    assert 'flask' not in sys.modules and 'sqlalchemy' not in sys.modules, 'not offline'\n"
    )
    extract = tmp_path / "extracted"
    ok = subprocess.run(
        [sys.executable, "-c", probe, str(target), *keys, "--extract", str(extract)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK: tender {finished_tender.code}")
    # everything the tender left behind is there
    names = {p.relative_to(extract).as_posix() for p in extract.rglob("*") if p.is_file()}
    assert "notice.json" in names and "opening/record.json" in names
    assert {"evaluation/report.json", "evaluation/report.pdf", "award/award.json", "award/contract"} <= names
    assert sum(n.endswith(".age") for n in names) == 9 and sum(n.endswith("receipt.json") for n in names) == 3
    assert any(n.startswith("documents/") for n in names) and any(n.startswith("opened/") for n in names)
    # the files are bound to the entries that recorded them when it happened (sealed ones disclosed)
    data = target.read_bytes()
    manifest = json.loads(data.split(b"\n", 2)[2].split(b"\n", 1)[0])
    attested = {m["name"] for m in manifest["members"] if m["attested_by"] is not None}
    assert {"opening/record.json", "evaluation/report.pdf", "award/contract"} <= attested
    assert all(f"bids/{name}" in attested for name in [n[5:] for n in names if n.endswith(".age")])
    # any changed byte is refused: the header, the manifest, a member, the trailer, and a sample
    trust = cosign.trust()
    manifest_end = data.index(b"\n", data.index(b"\n", 25) + 1) + 1
    positions = {0, 30, manifest_end - 2, manifest_end + 10, len(data) // 2, len(data) - 50, len(data) - 1}
    positions |= set(random.Random(18).sample(range(len(data)), 40))
    for position in sorted(positions):
        changed = bytearray(data)
        changed[position] ^= 0x20
        (tmp_path / "changed").write_bytes(bytes(changed))
        with pytest.raises((ArchiveRefused, ValueError)):
            verify_archive(tmp_path / "changed", trust)
    # and so is a byte added at the end, or a cut
    (tmp_path / "changed").write_bytes(data + b"\n")
    with pytest.raises(ArchiveRefused, match="after the trailer"):
        verify_archive(tmp_path / "changed", trust)
    (tmp_path / "changed").write_bytes(data[:-1000])
    with pytest.raises(ArchiveRefused):
        verify_archive(tmp_path / "changed", trust)
    # without the witness's cosignature, nothing verifies
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "audit.verify_archive",
            str(target),
            "--log-key",
            keys[1],
            "--witness-key",
            "w+00000000+BAAA",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0


def test_r_b7_r_r2_the_signed_opening_record_pdf_is_in_the_archive_attested(
    finished_tender, runner, session, tmp_path
):
    """The 开标记录表 as the platform signed it at the close (R-B7) travels in the archive (R-R2), bound to
    the bidding.opening_closed entry that named its SHA-256; a changed byte of it is refused."""
    opening = session.get(Opening, finished_tender.id)
    assert opening.record_pdf_sha256
    closed = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "bidding.opening_closed").order_by(AuditEntry.index)
    ).one()
    target = tmp_path / "tender.sunbid-archive"
    result = runner.invoke(args=["archive", "export", finished_tender.code, str(target)])
    assert result.exit_code == 0, result.output
    extract = tmp_path / "extracted"
    trust = cosign.trust()
    verify_archive(target, trust, extract=extract)
    pdf = (extract / "opening" / "record.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == opening.record_pdf_sha256
    assert pdf == file_store().path_for(opening.record_pdf_sha256).read_bytes()  # the very file served
    data = target.read_bytes()
    manifest = json.loads(data.split(b"\n", 2)[2].split(b"\n", 1)[0])
    (member,) = [m for m in manifest["members"] if m["name"] == "opening/record.pdf"]
    assert member["sha256"] == opening.record_pdf_sha256 and member["attested_by"] == closed.index
    # a byte of the signed PDF changed inside the archive: refused
    at = data.index(pdf) + len(pdf) // 2
    changed = bytearray(data)
    changed[at] ^= 0x01
    (tmp_path / "changed").write_bytes(bytes(changed))
    with pytest.raises(ArchiveRefused):
        verify_archive(tmp_path / "changed", trust)
