"""Resumable uploads (issue 15 item 4): a part goes up in chunks; a client that lost its connection asks
again with the same OUT.sig and resumes where the platform's copy stops. A tampered chunk, a chunk past
the signed size, a chunk after the deadline and a chunk for another tender are each refused with their
own code and change nothing. A part completed in chunks is judged as one sent whole (R-B1, R-B3 by its
last byte's arrival) and the receipt follows the submission (R-B2)."""

import hashlib
import uuid

from sqlalchemy import select

from bidding.models import BidPart, BidUpload, Tender
from core import clock
from core.storage import file_store
from crypto import receipts
from tests.bidding.test_bids import Tenderer, new_bid
from tests.bidding.test_tenders import auth, draft, publish


def begin(client, headers, tender, bid_id, part, signature):
    return client.post(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/{part}/uploads",
        headers={**headers, "X-Bid-Signature": signature},
    )


def chunk(client, headers, tender, bid_id, upload_id, offset, data, digest=None):
    return client.patch(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/uploads/{upload_id}",
        data=data,
        headers={
            **headers,
            "Upload-Offset": str(offset),
            "X-Chunk-SHA256": digest or hashlib.sha256(data).hexdigest(),
            "Content-Type": "application/octet-stream",
        },
    )


def code(response):
    return response.get_json()["error"]["code"]


def upload_in_chunks(client, headers, tender, bid_id, part, body, signature, size=4096):
    started = begin(client, headers, tender, bid_id, part, signature)
    assert started.status_code in (200, 201), started.get_json()
    state = started.get_json()
    offset = state["offset"]
    while offset < len(body):
        answer = chunk(client, headers, tender, bid_id, state["id"], offset, body[offset : offset + size])
        assert answer.status_code in (200, 201), answer.get_json()
        offset = answer.get_json()["offset"]
    return answer.get_json()


def test_an_interrupted_upload_resumes_and_the_bid_gets_its_receipt(
    client, people, session, tender, tmp_path
):
    bidder = Tenderer(people, session, "chunker")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    extra = {"图纸.bin": bytes(range(256)) * 200}  # ~50 KiB: several chunks
    body, signature = bidder.seal(tmp_path, tender, "technical", extra=extra)
    started = begin(client, headers, tender, bid_id, "technical", signature)
    assert started.status_code == 201
    state = started.get_json()
    assert (state["offset"], state["size"], state["complete"]) == (0, len(body), False)
    half = len(body) // 2
    assert chunk(client, headers, tender, bid_id, state["id"], 0, body[:half]).get_json()["offset"] == half
    # The connection drops; the client asks again with the same signature and learns where to go on.
    again = begin(client, headers, tender, bid_id, "technical", signature)
    assert again.status_code == 200 and again.get_json() == {**state, "offset": half}
    done = chunk(client, headers, tender, bid_id, state["id"], half, body[half:])
    assert done.status_code == 201, done.get_json()
    assert (
        done.get_json()["complete"]
        and done.get_json()["received"]["sha256"] == hashlib.sha256(body).hexdigest()
    )
    for part in ("qualification", "commercial"):
        sealed, sig = bidder.seal(tmp_path, tender, part)
        assert upload_in_chunks(client, headers, tender, bid_id, part, sealed, sig)["complete"]
    submitted = client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
    assert submitted.status_code == 201  # R-B2
    public = receipts.load_public_key_pem(client.get("/api/v1/receipt-key").get_data())
    payload = receipts.verify_receipt(submitted.get_data(), public)
    assert {p["part"]: p["size"] for p in payload["parts"]}["technical"] == len(body)
    session.rollback()
    assert session.scalars(select(BidUpload)).all() == []  # nothing left over
    stored = session.scalars(select(BidPart).where(BidPart.part == "technical")).one()
    with file_store().open(stored.sha256) as f:
        assert f.read() == body


def test_a_copy_completed_by_a_lost_chunk_is_reported_complete_not_started_again(
    client, people, session, tender, tmp_path
):
    """A page reloaded while its last chunk waited on the platform: that chunk completes the part. The
    new page's own last chunk finds the upload over (404 upload_not_found) and asks again with the same
    OUT.sig: the answer is that the part is in, not a fresh copy from byte 0 (R-B1)."""
    bidder = Tenderer(people, session, "reloader")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    body, signature = bidder.seal(tmp_path, tender, "technical", content=b"y" * 30_000)
    upload = begin(client, headers, tender, bid_id, "technical", signature).get_json()
    half = len(body) // 2
    assert chunk(client, headers, tender, bid_id, upload["id"], 0, body[:half]).status_code == 200
    lost = chunk(client, headers, tender, bid_id, upload["id"], half, body[half:])
    assert lost.status_code == 201 and lost.get_json()["complete"]
    again = chunk(client, headers, tender, bid_id, upload["id"], half, body[half:])
    assert (again.status_code, code(again)) == (404, "upload_not_found")
    asked = begin(client, headers, tender, bid_id, "technical", signature)
    assert asked.status_code == 200, asked.get_json()
    state = asked.get_json()
    assert state["complete"] and state["offset"] == state["size"] == len(body)
    assert state["received"]["sha256"] == hashlib.sha256(body).hexdigest()
    session.rollback()
    assert session.scalars(select(BidUpload)).all() == []  # no second copy was started
    # Sealed again (a new envelope for the part): a fresh copy starts, as before.
    resealed, signature2 = bidder.seal(tmp_path, tender, "technical", content=b"z" * 30_000)
    fresh = begin(client, headers, tender, bid_id, "technical", signature2)
    assert fresh.status_code == 201 and fresh.get_json()["offset"] == 0
    assert upload_in_chunks(client, headers, tender, bid_id, "technical", resealed, signature2)["complete"]


def test_bad_chunks_are_refused_each_with_its_code_and_change_nothing(
    client, people, session, tender, cast, tmp_path
):
    bidder = Tenderer(people, session, "chunky")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    body, signature = bidder.seal(tmp_path, tender, "technical", content=b"x" * 20_000)
    upload = begin(client, headers, tender, bid_id, "technical", signature).get_json()
    assert chunk(client, headers, tender, bid_id, upload["id"], 0, body[:1000]).status_code == 200

    def offset():
        session.rollback()
        return session.get(BidUpload, uuid.UUID(upload["id"])).received

    tampered = bytearray(body[1000:2000])
    tampered[10] ^= 1
    refused = chunk(
        client,
        headers,
        tender,
        bid_id,
        upload["id"],
        1000,
        bytes(tampered),
        hashlib.sha256(body[1000:2000]).hexdigest(),
    )
    assert (refused.status_code, code(refused)) == (422, "chunk_digest_mismatch") and offset() == 1000
    past = chunk(client, headers, tender, bid_id, upload["id"], 1000, body[1000:] + b"\0")
    assert (past.status_code, code(past)) == (422, "chunk_past_size") and offset() == 1000
    elsewhere = chunk(client, headers, tender, bid_id, upload["id"], 500, body[500:1500])
    assert (elsewhere.status_code, code(elsewhere)) == (409, "upload_offset_mismatch")
    assert elsewhere.get_json()["error"]["details"]["offset"] == 1000 and offset() == 1000

    # The same upload sent to another tender (the company bids there too): refused by name.
    other_id = draft(client, people, cast)["id"]
    assert publish(client, people, cast, other_id).status_code == 200
    session.rollback()
    other = session.get(Tender, uuid.UUID(other_id))
    other_bid = new_bid(client, headers, other)
    misplaced = chunk(client, headers, other, other_bid, upload["id"], 1000, body[1000:2000])
    assert (misplaced.status_code, code(misplaced)) == (409, "upload_other_tender") and offset() == 1000
    # A signature for another tender cannot even start an upload there.
    wrong = begin(client, headers, other, other_bid, "technical", signature)
    assert (wrong.status_code, code(wrong)) == (422, "bid_part_mismatch")

    clock.freeze(tender.bid_deadline)  # R-B3: the rest arrives too late
    late = chunk(client, headers, tender, bid_id, upload["id"], 1000, body[1000:])
    assert (late.status_code, code(late)) == (409, "deadline_passed") and offset() == 1000
    session.rollback()
    assert session.scalars(select(BidPart)).all() == []
    assert file_store().partial(f"{upload['id']}.part").stat().st_size == 1000


def test_a_complete_part_that_fails_its_signature_starts_over(client, people, session, tender, tmp_path):
    bidder = Tenderer(people, session, "swapper")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    body, signature = bidder.seal(tmp_path, tender, "technical")
    other_body, _sig = bidder.seal(tmp_path, tender, "technical")  # same size, other bytes
    assert len(other_body) == len(body)
    upload = begin(client, headers, tender, bid_id, "technical", signature).get_json()
    refused = chunk(client, headers, tender, bid_id, upload["id"], 0, other_body)
    assert (refused.status_code, code(refused)) == (422, "bid_ciphertext_mismatch")
    session.rollback()
    assert session.get(BidUpload, uuid.UUID(upload["id"])).received == 0
    assert session.scalars(select(BidPart)).all() == []
    assert chunk(client, headers, tender, bid_id, upload["id"], 0, body).status_code == 201


def test_a_chunk_sent_ahead_waits_for_the_one_before_it(
    app, client, people, session, tender, tmp_path, monkeypatch
):
    """The page keeps two chunks on the way (bidding.uploads.AHEAD): one that arrives before the chunk it
    follows waits for it and is then kept in order, so the part completes whole (R-B1); one whose
    predecessor never comes is refused with the copy's offset and keeps nothing; one further ahead than
    the platform takes is refused at once."""
    import threading
    import time

    from bidding import uploads

    bidder = Tenderer(people, session, "pipeliner")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    body, signature = bidder.seal(tmp_path, tender, "technical", content=b"y" * 30_000)
    upload = begin(client, headers, tender, bid_id, "technical", signature).get_json()
    assert upload["ahead"] == uploads.AHEAD
    cut = 10_000

    def offset():
        session.rollback()
        return session.get(BidUpload, uuid.UUID(upload["id"])).received

    monkeypatch.setattr(uploads, "WAIT_FOR_EARLIER", 0.3)
    alone = chunk(client, headers, tender, bid_id, upload["id"], cut, body[cut:])
    assert (alone.status_code, code(alone)) == (409, "upload_offset_mismatch") and offset() == 0
    too_far = chunk(
        client, headers, tender, bid_id, upload["id"], uploads.AHEAD * uploads.CHUNK_MAX + 1, b"z"
    )
    assert (too_far.status_code, code(too_far)) == (409, "upload_offset_mismatch")

    monkeypatch.setattr(uploads, "WAIT_FOR_EARLIER", 15.0)
    answers = {}

    def send_second():
        answers["second"] = chunk(app.test_client(), headers, tender, bid_id, upload["id"], cut, body[cut:])

    second = threading.Thread(target=send_second)
    second.start()
    time.sleep(0.5)  # the second chunk arrives first, and waits
    first = chunk(client, headers, tender, bid_id, upload["id"], 0, body[:cut])
    second.join(20)
    assert first.status_code == 200 and first.get_json()["offset"] == cut
    assert answers["second"].status_code == 201, answers["second"].get_json()
    assert answers["second"].get_json()["complete"] is True
    session.rollback()
    stored = session.scalars(select(BidPart).where(BidPart.part == "technical")).one()
    with file_store().open(stored.sha256) as f:
        assert f.read() == body
