"""PAdES signatures on platform documents (R-R2): what core.pdfsign signs, Poppler's pdfsig and pyHanko's
validator accept; a changed byte, or a root the signer does not chain to, is caught."""

import shutil
import subprocess

import pytest
from fpdf import FPDF

from accounts import pki
from core import clock, pdfsign
from crypto import ca

PDFSIG = shutil.which("pdfsig")


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Evaluation report")
    return bytes(pdf.output())


@pytest.fixture
def signed(session, tmp_path):
    pki.ensure_ca(session)
    signer = pki.document_signer(session)
    session.commit()
    body = pdfsign.sign(
        _pdf(),
        signer,
        reason="test",
        attachments=[
            pdfsign.Attachment("member-1.p7s", b"\x30\x03\x02\x01\x01", "application/pkcs7-signature")
        ],
    )
    path = tmp_path / "signed.pdf"
    path.write_bytes(body)
    return body, path, pki.chain(pki.get_ca(session))[-1]


def test_the_platform_signature_verifies_with_pyhanko_and_keeps_the_attachments(signed):
    body, _path, root = signed
    (check,) = pdfsign.verify(body, [root], clock.now())
    assert check.ok and check.subfilter == "/ETSI.CAdES.detached"
    assert "SunBid document signing" in check.signer
    assert pdfsign.attachments(body) == {"member-1.p7s": b"\x30\x03\x02\x01\x01"}


@pytest.mark.skipif(PDFSIG is None, reason="poppler-utils (pdfsig) is not installed")
def test_pdfsig_finds_the_whole_document_signed(signed):
    _body, path, _root = signed
    out = subprocess.run([PDFSIG, str(path)], capture_output=True, text=True, check=False).stdout
    assert "Signature is Valid" in out and "Total document signed" in out, out
    assert "ETSI.CAdES.detached" in out


def test_a_changed_byte_or_a_foreign_root_is_caught(signed):
    body, _path, root = signed
    at = body.index(b"/CreationDate (D:") + len(b"/CreationDate (D:")  # a signed byte, same length
    tampered = body[:at] + (b"1" if body[at : at + 1] != b"1" else b"2") + body[at + 1 :]
    (check,) = pdfsign.verify(tampered, [root], clock.now())
    assert not check.intact and not check.ok
    foreign = ca.create_ca("Another CA", b"pass", clock.now()).root_cert
    (check,) = pdfsign.verify(body, [foreign], clock.now())
    assert check.intact and not check.trusted and not check.ok


def test_the_signer_is_issued_once_and_reused(session):
    pki.ensure_ca(session)
    first = pki.document_signer(session)
    session.commit()
    again = pki.document_signer(session)
    assert again.certificate.serial_number == first.certificate.serial_number
