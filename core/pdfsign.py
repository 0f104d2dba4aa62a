"""PAdES signatures on the platform's PDF documents (R-R2: evaluation reports, award and result notices).

One module signs and checks PDFs for every feature, with pyHanko: ``sign`` adds files to the PDF
(members' own CMS signatures, the signed content, proofs) and then a PAdES baseline signature
(ETSI.CAdES.detached, SHA-256) by a ``Signer`` that holds a key and its certificate chain;
``verify`` checks every signature in a PDF against trusted roots, as pyHanko's validator sees it. The
signature covers the whole file, attachments included; Poppler's ``pdfsig`` and Adobe Reader read it.

No Flask and no database here: the platform's own signer (a service certificate from the platform CA)
is made by ``accounts.pki.document_signer``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

if TYPE_CHECKING:
    from pyhanko.sign.signers import SimpleSigner

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Attachment:
    """A file carried inside the PDF (EmbeddedFiles), covered by the platform's signature."""

    name: str
    data: bytes
    mime_type: str = "application/octet-stream"
    description: str = ""


@dataclass(frozen=True)
class Signer:
    """A signing key with its certificate and the chain up to the root."""

    key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class SignatureCheck:
    """One signature of a PDF as the validator found it."""

    field_name: str
    signer: str
    signed_at: datetime | None
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature verifies
    trusted: bool  # the certificate chains to one of the given roots
    covers_whole_file: bool
    subfilter: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_file


def _off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """pyHanko's synchronous calls run an event loop of their own (asyncio.run): where this thread
    already runs one (an async server, a browser test driver), they run in a thread of their own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(fn, *args, **kwargs).result()


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _pyhanko_signer(signer: Signer) -> SimpleSigner:
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = signer.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=_asn1_cert(signer.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(der),
        # pyhanko-certvalidator leaves from_certs (and the store's __init__) unannotated
        cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in signer.chain]),  # type: ignore[no-untyped-call]
    )


def sign(
    pdf: bytes,
    signer: Signer,
    *,
    field_name: str = "Platform",
    reason: str = "",
    location: str = "",
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """``pdf`` with ``attachments`` embedded and a PAdES signature over all of it."""
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for item in attachments:
        data = embed.EmbeddedFileObject.from_file_data(writer, data=item.data, mime_type=item.mime_type)
        spec = embed.FileSpec(
            file_spec_string=item.name,
            file_name=item.name,
            embedded_data=data,
            description=item.description or None,
        )
        embed.embed_file(writer, spec)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason or None,
        location=location or None,
        name=signer.name or None,
    )
    out = io.BytesIO()  # sign_pdf writes here (what it makes when given none; its return is untyped)
    _off_loop(lambda: signers.sign_pdf(writer, meta, signer=_pyhanko_signer(signer), output=out))
    return out.getvalue()


def verify(pdf: bytes, roots: Sequence[x509.Certificate], at: datetime | None = None) -> list[SignatureCheck]:
    """Every signature in ``pdf``, checked against ``roots`` as of ``at`` (default now; a sandbox
    platform's clock may stand elsewhere); no network: revocation is not fetched."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(pdf))
    context = ValidationContext(trust_roots=[_asn1_cert(r) for r in roots], allow_fetching=False, moment=at)
    checks = []
    for embedded in reader.embedded_signatures:
        status = _off_loop(validate_pdf_signature, embedded, context)
        checks.append(
            SignatureCheck(
                field_name=embedded.field_name,
                signer=status.signing_cert.subject.human_friendly,
                signed_at=status.signer_reported_dt,
                intact=status.intact,
                valid=status.valid,
                trusted=status.trusted,
                # no coverage (the analysis did not run) is not a whole file
                covers_whole_file=status.coverage is SignatureCoverageLevel.ENTIRE_FILE,
                subfilter=str(embedded.sig_object.get("/SubFilter")),
            )
        )
    return checks


def attachments(pdf: bytes) -> dict[str, bytes]:
    """The files embedded in ``pdf`` by name (to check a member's CMS signature offline)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf))
    names = reader.root.get("/Names")
    names = names.get_object() if names is not None else None
    found: dict[str, bytes] = {}
    if names is None or "/EmbeddedFiles" not in names:
        return found
    pairs = names["/EmbeddedFiles"].get_object().get("/Names", [])
    pairs = pairs.get_object() if hasattr(pairs, "get_object") else pairs
    for n in range(0, len(pairs), 2):
        spec = pairs[n + 1].get_object()
        found[str(pairs[n])] = spec["/EF"]["/F"].get_object().data
    return found
