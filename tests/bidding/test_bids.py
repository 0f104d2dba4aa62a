"""Bids: sealed parts streamed in and checked (R-B1), on time by the clock at completion (R-B3), a signed
receipt at once (R-B2), replace and withdraw before the deadline (R-B4), and confidentiality."""

import base64
import hashlib
import io
import os
import uuid
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from accounts import pki
from bidding import bids, ledger
from bidding.models import Bid, Deposit, TenderDocument
from core import clock
from core.roles import Role
from core.storage import file_store
from crypto import age, bidpack, cms, receipts
from crypto.canonical import canonical_json
from tests.bidding.test_ledger import ACCOUNT, pay
from tests.bidding.test_tenders import auth

PRICE_SHEET = {
    "currency": "CNY",
    "total_fen": 9_876_543_21,
    "items": [{"name": "施工总价", "amount_fen": 9_876_543_21}],
    "duration_days": 365,
}


def _sheet(total_fen: int) -> dict:
    return {
        "currency": "CNY",
        "total_fen": total_fen,
        "items": [{"name": "施工总价", "amount_fen": total_fen}],
    }


def _price_sheet(price_fen: int | None, project_manager: str | None) -> dict:
    sheet = _sheet(price_fen) if price_fen else dict(PRICE_SHEET)
    return {**sheet, "project_manager": project_manager} if project_manager else sheet


class Tenderer:
    """A tenderer with a platform-issued signing certificate and its own age identity."""

    def __init__(self, people, session, username):
        self.user = people.user(Role.TENDERER, username)
        self.user.organization.basic_account_no = ACCOUNT
        session.commit()
        self.key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, username)]))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )
        row = pki.issue_signing_certificate(session, self.user, csr)
        session.commit()
        self.cert = x509.load_pem_x509_certificate(row.pem.encode())
        self.identity = age.generate_identity()

    def seal(
        self,
        tmp_path,
        tender,
        part,
        *,
        lot=1,
        tender_id=None,
        recipients=None,
        content=b"bid text",
        price_fen=None,
        project_manager=None,
        extra=None,
    ):
        src = tmp_path / f"src-{part}-{uuid.uuid4().hex[:6]}"
        src.mkdir()
        (src / "投标函.txt").write_bytes(content)
        for name, data in (extra or {}).items():  # more files in the part (a PDF, an image...)
            (src / name).write_bytes(data)
        out = tmp_path / f"{src.name}.age"
        bidpack.seal(
            src,
            out,
            recipients=recipients
            or [age.Recipient.parse(tender.opening_key.recipient), self.identity.recipient],
            certificate=self.cert,
            private_key=self.key,
            tender=tender_id or str(tender.id),
            lot=lot,
            part=part,
            price_sheet=_price_sheet(price_fen, project_manager) if part == "commercial" else None,
            machine_fingerprint="a" * 64,
            tool_version="test",
        )
        return out.read_bytes(), base64.b64encode((tmp_path / f"{src.name}.age.sig").read_bytes()).decode()


def upload_all(client, headers, tmp_path, tenderer, tender, bid_id, parts=bidpack.PARTS):
    for part in parts:
        body, signature = tenderer.seal(tmp_path, tender, part)
        response = client.put(
            f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/{part}",
            data=body,
            headers={**headers, "X-Bid-Signature": signature},
        )
        assert response.status_code == 201, response.get_json()


def new_bid(client, headers, tender):
    response = client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_r_b2_a_sealed_bid_gets_a_receipt_that_verifies_offline(client, people, session, tender, tmp_path):
    bidder = Tenderer(people, session, "sealer")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    upload_all(client, headers, tmp_path, bidder, tender, bid_id)
    response = client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
    assert response.status_code == 201
    public = receipts.load_public_key_pem(client.get("/api/v1/receipt-key").get_data())
    payload = receipts.verify_receipt(response.get_data(), public)
    assert payload["bid_id"] == bid_id and payload["tenderer"] == bidder.user.organization.credit_code
    assert sorted(p["part"] for p in payload["parts"]) == sorted(bidpack.PARTS)
    # The receipt's audit index points at the submission in the tamper-evident log.
    session.rollback()
    assert session.get(Bid, uuid.UUID(bid_id)).audit_index == payload["audit_index"]


def test_r_b1_an_unencrypted_upload_is_refused(client, people, session, tender, tmp_path):
    bidder = Tenderer(people, session, "plain")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    _body, signature = bidder.seal(tmp_path, tender, "technical")
    response = client.put(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/technical",
        data=b"%PDF-1.7 plain",
        headers={**headers, "X-Bid-Signature": signature},
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "bid_ciphertext_mismatch"
    missing = client.put(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/technical", data=b"x", headers=headers
    )
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "signature_missing"
    # Even correctly signed, a plaintext file is not a sealed bid.
    plain = b"%PDF-1.7 the technical proposal, not encrypted"
    statement = bidpack._statement(
        str(tender.id),
        1,
        "technical",
        bidder.user.organization.credit_code,
        hashlib.sha256(plain).hexdigest(),
        len(plain),
    )
    der = cms.sign_detached(canonical_json(statement), bidder.cert, bidder.key)
    signed_plain = base64.b64encode(bidpack._encode_signature_file(statement, der, bidder.cert)).decode()
    response = client.put(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/technical",
        data=plain,
        headers={**headers, "X-Bid-Signature": signed_plain},
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "bid_envelope_invalid"
    assert "unencrypted" in response.get_json()["error"]["message"]


def test_a_part_signed_for_another_tender_or_by_another_company_is_refused(
    client, people, session, tender, tmp_path
):
    bidder, other = Tenderer(people, session, "honest"), Tenderer(people, session, "other")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    body, signature = bidder.seal(tmp_path, tender, "technical", tender_id=str(uuid.uuid4()))
    wrong_tender = client.put(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/technical",
        data=body,
        headers={**headers, "X-Bid-Signature": signature},
    )
    assert wrong_tender.get_json()["error"]["code"] == "bid_part_mismatch"
    body, signature = other.seal(tmp_path, tender, "technical")
    foreign = client.put(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/technical",
        data=body,
        headers={**headers, "X-Bid-Signature": signature},
    )
    assert foreign.get_json()["error"]["code"] == "bid_signer_mismatch"


def test_r_b3_the_clock_at_completion_decides(client, people, session, tender, tmp_path):
    bidder = Tenderer(people, session, "late")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    upload_all(client, headers, tmp_path, bidder, tender, bid_id)
    clock.freeze(tender.bid_deadline)
    late = client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "deadline_passed"
    session.rollback()
    assert session.get(Bid, uuid.UUID(bid_id)).receipt is None


def test_r_b4_replace_and_withdraw_before_the_deadline(client, people, session, tender, tmp_path):
    bidder = Tenderer(people, session, "changer")
    pay(session, bidder.user, tender)
    headers = auth(people, client, bidder.user)
    first = new_bid(client, headers, tender)
    upload_all(client, headers, tmp_path, bidder, tender, first)
    client.post(f"/api/v1/tenders/{tender.id}/bids/{first}/submit", headers=headers)
    second = new_bid(client, headers, tender)
    upload_all(client, headers, tmp_path, bidder, tender, second)
    assert (
        client.post(f"/api/v1/tenders/{tender.id}/bids/{second}/submit", headers=headers).status_code == 201
    )
    mine = client.get(f"/api/v1/tenders/{tender.id}/bids", headers=headers).get_json()["items"]
    assert {b["id"]: b["status"] for b in mine} == {first: "replaced", second: "submitted"}
    withdrawn = client.delete(f"/api/v1/tenders/{tender.id}/bids/{second}", headers=headers)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    session.rollback()
    deposit = session.scalars(select(Deposit)).one()
    assert deposit.status == "refund_due" and deposit.refund_reason == "withdrawal"  # R-D2
    ledger.execute_refund(session, deposit)
    session.commit()
    assert ledger.trial_balance(session) == 0


def test_before_the_deadline_nobody_else_learns_anything(client, people, session, tender, tmp_path, cast):
    bidder, rival = Tenderer(people, session, "secret"), Tenderer(people, session, "rival")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    upload_all(client, headers, tmp_path, bidder, tender, bid_id)
    client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
    clock.advance(timedelta(seconds=31))
    agency_view = client.get(f"/api/v1/tenders/{tender.id}/bids", headers=auth(people, client, cast["agent"]))
    assert agency_view.get_json()["items"] == []
    rival_headers = auth(people, client, rival.user)
    assert client.get(f"/api/v1/tenders/{tender.id}/bids", headers=rival_headers).get_json()["items"] == []
    snoop = client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=rival_headers)
    assert snoop.status_code == 404  # not 403: a bid's existence is not revealed
    clock.freeze(tender.bid_deadline)
    after = client.get(f"/api/v1/tenders/{tender.id}/bids", headers=auth(people, client, cast["agent"]))
    assert [b["id"] for b in after.get_json()["items"]] == [bid_id]


def test_missing_parts_are_named(client, people, session, tender, tmp_path):
    bidder = Tenderer(people, session, "partial")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    upload_all(client, headers, tmp_path, bidder, tender, bid_id, parts=("commercial",))
    response = client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["missing"] == ["qualification", "technical"]


def test_refused_uploads_leave_no_file_after_a_sweep(client, people, session, tender, tmp_path, runner, app):
    """A part refused after streaming leaves its file only until `flask storage sweep` (crash safety)."""
    bidder = Tenderer(people, session, "sweeper")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    upload_all(client, headers, tmp_path, bidder, tender, bid_id, parts=("technical",))
    body, signature = bidder.seal(tmp_path, tender, "commercial", tender_id=str(uuid.uuid4()))
    assert (
        client.put(
            f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/commercial",
            data=body,
            headers={**headers, "X-Bid-Signature": signature},
        ).status_code
        == 422
    )
    store = file_store(app)
    assert len(list(store.root.glob("??/??/*"))) == 3  # the tender documents, the part kept, the refused one
    session.rollback()  # the CLI runs in this test's app context and session: start a fresh snapshot
    result = runner.invoke(args=["storage", "sweep", "--older-than", "0"])
    assert "1 unreferenced" in result.output
    kept = {p.name for p in store.root.glob("??/??/*")}
    session.rollback()
    documents = {d.sha256 for d in session.scalars(select(TenderDocument))}
    assert kept == {session.get(Bid, uuid.UUID(bid_id)).parts[0].sha256} | documents


def test_receiving_a_part_never_rolls_back_unsaved_work(people, session, tender, tmp_path):
    """A part streams in outside any transaction (it ends the one it is given); given one that has
    written, even flushed, it refuses rather than silently lose that work."""
    bidder = Tenderer(people, session, "eager")
    pay(session, bidder.user, tender)
    bid = bids.open_bid(session, bidder.user, tender, 1)  # flushed, not committed
    body, signature = bidder.seal(tmp_path, tender, "technical")
    with pytest.raises(RuntimeError):
        bids.receive_part(
            session, bidder.user, tender, bid, "technical", io.BytesIO(body), signature, file_store()
        )
    assert session.get(Bid, bid.id) is not None  # the new bid is still there to commit


def test_bodies_over_the_limit_are_refused_unread_but_bid_parts_have_their_own(
    app, client, people, session, tender, tmp_path, cast, monkeypatch
):
    """A body larger than the platform takes is refused with 413 too_large before any view reads it
    (nothing is spooled or stored), while a sealed bid part may be as large as bid parts may be."""
    from bidding import bids, documents
    from credit import services as conduct

    # Every ordinary file fits within the default limit, multipart framing included; a bid part need not.
    largest_file = max(documents.MAX_DOCUMENT_SIZE, conduct.MAX_EVIDENCE_SIZE)
    assert largest_file < app.config["MAX_CONTENT_LENGTH"] < bids.MAX_PART_SIZE
    bidder = Tenderer(people, session, "largepart")  # before any request: auth() leaves a snapshot open
    store = file_store(app)
    before = set(store.root.glob("??/??/*"))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    agent = auth(people, client, cast["agent"])
    too_big = os.urandom(64 * 1024 + 1)
    raw = client.post(
        f"/api/v1/tenders/{tender.id}/documents?filename=drawings.pdf",
        data=too_big,
        headers={**agent, "Content-Type": "application/pdf"},
    )
    assert raw.status_code == 413 and raw.get_json()["error"]["code"] == "too_large"
    form = client.post(
        f"/api/v1/tenders/{tender.id}/documents",
        data={"file": (io.BytesIO(too_big), "drawings.pdf")},
        headers=agent,
    )
    assert form.status_code == 413 and form.get_json()["error"]["code"] == "too_large"
    # Within the limit the same request reaches its view, which refuses it for its own reason.
    late = client.post(
        f"/api/v1/tenders/{tender.id}/documents?filename=drawings.pdf",
        data=too_big[:1024],
        headers={**agent, "Content-Type": "application/pdf"},
    )
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "tender_not_draft"

    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    body, signature = bidder.seal(tmp_path, tender, "technical", content=os.urandom(256 * 1024))
    assert len(body) > 64 * 1024
    response = client.put(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/technical",
        data=body,
        headers={**headers, "X-Bid-Signature": signature},
    )
    assert response.status_code == 201, response.get_json()
    assert set(store.root.glob("??/??/*")) - before == {store.path_for(hashlib.sha256(body).hexdigest())}
