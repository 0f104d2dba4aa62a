"""R-B3 judged at arrival (issue 18 item 5): a submit, or a part's last byte, that reached the platform
before the deadline is on time even when another transaction holds the locks it needs across the
deadline (SQLite: the database's write lock; PostgreSQL: the rows the submission writes)."""

import http.client
import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlparse

from sqlalchemy import create_engine, text

from core import clock
from crypto import bidpack, receipts
from tests.bidding.test_bids import Tenderer, new_bid
from tests.bidding.test_tenders import auth


@contextmanager
def lock_held(database_url: str, bid_id: str):
    """Another writer's transaction, holding what the submission needs until the block ends."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")  # the write lock: every other writer queues behind it
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(database_url)
    with engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text("SELECT id FROM audit_head WHERE id = 1 FOR UPDATE"))
        conn.execute(text("SELECT id FROM bids WHERE id = :id FOR UPDATE"), {"id": bid_id})
        try:
            yield
        finally:
            trans.rollback()
    engine.dispose()


def run_clock_until(deadline, seconds_before: float) -> None:
    """Let the platform clock run, from ``seconds_before`` the deadline, in real time."""
    clock.freeze(None)
    clock.set_offset(deadline - timedelta(seconds=seconds_before) - clock.real_now())


def wait_until(deadline, seconds_before: float) -> None:
    time.sleep(max(0.0, (deadline - clock.now()).total_seconds() - seconds_before))


def send(url: str, method: str, path: str, headers: dict, body: bytes = b"") -> list:
    answer: list = []

    def go():
        parsed = urlparse(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        answer.append((response.status, response.read()))
        conn.close()

    thread = threading.Thread(target=go)
    thread.start()
    answer.append(thread)
    return answer


def test_r_b3_a_submit_sent_before_the_deadline_is_on_time_behind_a_held_lock(
    client, people, session, tender, tmp_path, live_server, config
):
    bidder = Tenderer(people, session, "arrives")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    for part in bidpack.PARTS:
        body, signature = bidder.seal(tmp_path, tender, part)
        response = client.put(
            f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/{part}",
            data=body,
            headers={**headers, "X-Bid-Signature": signature},
        )
        assert response.status_code == 201
    deadline = tender.bid_deadline
    run_clock_until(deadline, 1.0)
    with lock_held(config["DATABASE_URL"], bid_id):
        wait_until(deadline, 0.25)
        answer = send(live_server, "POST", f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers)
        wait_until(deadline, -0.75)  # the lock is held until well past the deadline
    answer[0].join(timeout=60)
    status, document = answer[1]
    assert status == 201, document
    payload = json.loads(document)["receipt"]
    received = receipts.format_time(deadline - timedelta(seconds=0.25))
    assert payload["received_at"] < receipts.format_time(deadline)  # the time it arrived
    assert payload["received_at"] >= received[:19]


def test_r_b3_a_parts_last_byte_is_judged_when_it_arrived(
    client, people, session, tender, tmp_path, live_server, config
):
    bidder = Tenderer(people, session, "streams")
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    body, signature = bidder.seal(tmp_path, tender, "technical", content=b"x" * 200_000)
    deadline = tender.bid_deadline
    run_clock_until(deadline, 1.0)
    with lock_held(config["DATABASE_URL"], bid_id):
        wait_until(deadline, 0.25)
        answer = send(
            live_server,
            "PUT",
            f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/technical",
            {**headers, "X-Bid-Signature": signature, "Content-Type": "application/octet-stream"},
            body,
        )
        wait_until(deadline, -0.75)
    answer[0].join(timeout=60)
    status, reply = answer[1]
    assert status == 201, reply
    # and a part whose last byte comes after the deadline is late, lock or no lock
    body, signature = bidder.seal(tmp_path, tender, "commercial")
    late = send(
        live_server,
        "PUT",
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/commercial",
        {**headers, "X-Bid-Signature": signature},
        body,
    )
    late[0].join(timeout=60)
    assert late[1][0] == 409 and json.loads(late[1][1])["error"]["code"] == "deadline_passed"
