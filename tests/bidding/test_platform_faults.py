"""Bids judged against their receipts (issue 18 item 1): a stored part that is not the one receipted is the
platform's fault, never the bidder's (R-B6); the store is checked; receipts carry their log proof (R-B2)."""

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from audit import cosign
from audit.models import AuditEntry
from bidding import bids
from bidding.models import Bid, BidPart, Deposit
from core import clock
from core.models import Notification
from core.storage import file_store
from crypto import logproof, receipts
from tests.bidding.test_opening import decrypt, file_keys, start, submit
from tests.bidding.test_tenders import auth


def flip_a_byte(app, sha256: str, offset: int = -100) -> None:
    """What a failing disk, or an operator, does to a stored part."""
    path = file_store(app).path_for(sha256)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def part_of(session, bid_id, name) -> BidPart:
    return session.scalars(
        select(BidPart).where(BidPart.bid_id == uuid.UUID(bid_id), BidPart.part == name)
    ).one()


def test_r_b2_the_receipt_carries_the_log_proof_of_the_submission(client, people, session, tender, tmp_path):
    bidder, bid_id, _sealed = submit(client, people, session, tender, tmp_path, "proven")
    headers = auth(people, client, bidder.user)
    document = client.get(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/receipt", headers=headers).get_data()
    payload = receipts.verify_receipt(document, receipts.load_public_key_pem(bids.receipt_public_pem()))
    trust = cosign.trust()
    proven = receipts.verify_receipt_proof(payload, receipts.proof_of(document), trust)
    # the sealed entry's content, disclosed to the bidder only, names this bid and its parts' hashes
    assert proven.sealed and proven.disclosed and proven.entry["target"]["id"] == bid_id
    assert proven.checkpoint.cosigned_at  # cosigned by the witness
    # a proof whose content was changed is refused, as is one without the witness's cosignature
    forged = receipts.proof_of(document)
    forged["content"] = forged["content"].replace(payload["parts"][0]["sha256"], "0" * 64)
    try:
        receipts.verify_receipt_proof(payload, forged, trust)
    except logproof.CommitmentMismatch:
        pass
    else:
        raise AssertionError("a changed sealed content was accepted")
    unwitnessed = dict(receipts.proof_of(document))
    lines = unwitnessed["checkpoint"].splitlines(keepends=True)
    unwitnessed["checkpoint"] = "".join(line for line in lines if "witness.test" not in line)
    try:
        receipts.verify_receipt_proof(payload, unwitnessed, trust)
    except logproof.CheckpointNotWitnessed:
        pass
    else:
        raise AssertionError("a checkpoint without the witness's cosignature was accepted")


def test_r_b6_a_byte_flipped_in_a_stored_part_is_the_platforms_fault(
    app, client, people, cast, session, tender, tmp_path
):
    bidders = [submit(client, people, session, tender, tmp_path, f"kept{n}") for n in range(3)]
    victim, victim_bid, sealed = bidders[2]
    flip_a_byte(app, part_of(session, victim_bid, "technical").sha256)
    assert start(client, people, cast, tender).get_json()["status"] == "decrypting"
    for bidder, bid_id, keys in bidders[:2]:
        assert decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, keys)).status_code == 200
    answer = decrypt(client, people, tender, victim, victim_bid, file_keys(victim, sealed)).get_json()
    results = {r["part"]: r for r in answer["results"]}
    assert results["technical"]["failure_code"] == "stored_part_altered"  # not payload_corrupted
    assert results["technical"]["platform_fault"] and results["commercial"]["status"] == "ok"
    # A second attempt answers for every part instead of saying nothing.
    again = decrypt(client, people, tender, victim, victim_bid, file_keys(victim, sealed)).get_json()
    attempts = {r["part"]: r["attempt"] for r in again["results"]}
    assert attempts == {
        "commercial": "already_opened",
        "qualification": "already_opened",
        "technical": "failed",
    }
    # The closing counts the bid as withdrawn (撤回), refunds its deposit, and logs the incident.
    clock.freeze(clock.now() + timedelta(hours=2))
    closed = client.post(
        f"/api/v1/tenders/{tender.id}/opening/close", json={}, headers=auth(people, client, cast["agent"])
    )
    assert closed.status_code == 200, closed.get_json()
    record = json.loads(closed.data)["record"]
    row = next(r for r in record["bids"] if r["bid"] == victim_bid)
    assert (row["outcome"], row["outcome_reason"], row["platform_fault"]) == (
        "withdrawn",
        "stored_part_altered",
        True,
    )
    session.rollback()
    deposit = session.scalars(
        select(Deposit).where(Deposit.organization_id == victim.user.organization_id)
    ).one()
    assert deposit.status == "refund_due"
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == victim_bid)))
    assert {"bidding.stored_part_altered", "bidding.platform_fault_withdrawn"} <= actions
    told = session.scalars(select(Notification.user_id)).all()
    assert cast["supervisor"].id in told and victim.user.id in told


def test_storage_verify_reports_by_tender_and_bid(app, client, people, session, tender, tmp_path, runner):
    _bidder, bid_id, _sealed = submit(client, people, session, tender, tmp_path, "checked")
    assert runner.invoke(args=["storage", "verify"]).exit_code == 0
    part = part_of(session, bid_id, "commercial")
    flip_a_byte(app, part.sha256, 10)
    result = runner.invoke(args=["storage", "verify"])
    assert result.exit_code == 1
    assert f"{tender.code}: " in result.output and f"bid {bid_id} commercial: ALTERED" in result.output
    assert "FAIL:" in result.output and "1 missing or altered" in result.output
    file_store(app).path_for(part.sha256).unlink()
    assert f"bid {bid_id} commercial: MISSING" in runner.invoke(args=["storage", "verify"]).output


def test_the_daily_check_logs_a_damaged_part_once_and_tells_its_bidder(
    app, client, people, session, tender, tmp_path
):
    from bidding import tasks

    bidder, bid_id, _sealed = submit(client, people, session, tender, tmp_path, "nightly")
    flip_a_byte(app, part_of(session, bid_id, "technical").sha256)
    with app.app_context():
        assert tasks.verify_store.apply().get() == 1
        assert tasks.verify_store.apply().get() == 0  # already logged
    session.rollback()
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "bidding.stored_part_altered")
    ).all()
    assert len(entries) == 1 and entries[0].seal_scope is not None  # who bid stays sealed (R-B4)
    assert session.scalars(select(Notification).where(Notification.user_id == bidder.user.id)).first()
    assert session.get(Bid, uuid.UUID(bid_id)).status == "submitted"


def test_the_daily_check_lets_the_platform_write_while_it_hashes(
    app, client, people, session, tender, tmp_path, monkeypatch
):
    """R-B2: the store check hashes every receipted part (minutes for a large store); meanwhile bids and
    every other write go on. On SQLite a task that held the write lock while hashing made them wait
    out the busy timeout and fail."""
    import sqlite3

    from bidding import tasks
    from core import storage

    database = app.config["DATABASE_URL"]
    if not database.startswith("sqlite:///"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    submit(client, people, session, tender, tmp_path, "busy")
    session.rollback()
    hash_file = storage._digest_file
    writes = []

    def hash_while_another_writes(path, *args, **kwargs):
        other = sqlite3.connect(database.removeprefix("sqlite:///"), timeout=0.2)
        try:
            other.execute("BEGIN IMMEDIATE")  # what any request that writes does first
            other.rollback()
            writes.append("ok")
        except sqlite3.OperationalError as e:
            writes.append(str(e))
        finally:
            other.close()
        return hash_file(path, *args, **kwargs)

    monkeypatch.setattr(storage, "_digest_file", hash_while_another_writes)
    with app.app_context():
        assert tasks.verify_store.apply().get() == 0
    assert writes and set(writes) == {"ok"}, writes


def test_the_receipt_page_check_shows_a_rolled_back_log(client, people, session, tender, tmp_path):
    from audit.models import AuditCosigned
    from tests.audit.tamper import roll_back

    session.rollback()
    client.get("/api/v1/audit/checkpoint")  # a cosigned checkpoint now: the backup the operator restores
    session.rollback()
    backup = max(session.scalars(select(AuditCosigned.size)))
    bidder, bid_id, _sealed = submit(client, people, session, tender, tmp_path, "checks")
    headers = auth(people, client, bidder.user)
    document = client.get(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/receipt", headers=headers).get_data()
    checked = bids.check_receipt(session, document)
    assert checked.ok and [name for name, _ok, _code in checked.steps] == [
        "signature",
        "proof",
        "consistent",
        "kept",
    ]
    session.rollback()
    roll_back(session, backup)
    checked = bids.check_receipt(session, document)
    assert checked.alarm == "log_rolled_back" and not checked.ok
    forged = document.replace(b'"lot": 1', b'"lot": 2')
    assert bids.check_receipt(session, forged).steps == [("signature", False, "receipt_signature_invalid")]


def test_the_tender_page_says_the_closed_record_is_the_logged_one(
    client, people, cast, session, tender, tmp_path
):
    from tests.bidding.test_views import sign_in

    bidders = [submit(client, people, session, tender, tmp_path, f"shown{n}") for n in range(3)]
    start(client, people, cast, tender)
    for bidder, bid_id, sealed in bidders:
        decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    clock.freeze(clock.now() + timedelta(hours=2))
    agent = auth(people, client, cast["agent"])
    assert (
        client.post(f"/api/v1/tenders/{tender.id}/opening/close", json={}, headers=agent).status_code == 200
    )
    sign_in(client, people, bidders[0][0].user)
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert 'id="record-proven"' in page and "✓" in page.split('id="record-proven"')[1][:40]
