"""Sealed audit entries (R-B4, R-R1): what tells who bid is in the signed log from the start, as a
commitment, and readable by nobody but the bidder until the bid deadline."""

import hashlib
import json
from datetime import timedelta

from sqlalchemy import select

from audit import dbverify
from audit.models import AuditEntry
from audit.verify import DISCLOSED, verify_export
from core import clock
from core.roles import Role
from crypto.canonical import canonical_json
from crypto.note import Verifier
from tests.audit.test_log import _allow_tampering
from tests.bidding.test_opening import submit
from tests.bidding.test_tenders import auth

ACCOUNT_ACTIONS = {
    "accounts.organization_created",
    "accounts.user_created",
    "accounts.signed_in",
    "accounts.token_issued",
    "ca.certificate_issued",
}
BID_ACTIONS = {
    "bidding.bid_opened",
    "bidding.bid_part_received",
    "bidding.bid_submitted",
    "bidding.deposit_reference_issued",
}


def _all_entries(client, headers, **params) -> list[dict]:
    items, page = [], 1
    while True:
        body = client.get(
            "/api/v1/audit/entries", query_string={**params, "page": page, "per_page": 100}, headers=headers
        ).get_json()
        items += body["items"]
        if page * body["per_page"] >= body["total"]:
            return items
        page += 1


def test_r_b4_the_supervisor_learns_nothing_of_the_bidders_before_the_deadline(
    client, people, cast, session, tender, tmp_path
):
    bidders = [submit(client, people, session, tender, tmp_path, f"sealed{n}") for n in range(3)]
    orgs = {str(b.user.organization_id) for b, _bid, _sealed in bidders}
    names = {b.user.organization.name for b, _bid, _sealed in bidders}
    parts = session.scalars(select(AuditEntry).where(AuditEntry.seal_scope.is_not(None))).all()
    assert {e.action for e in parts} >= BID_ACTIONS  # they are logged, sealed
    supervisor = auth(people, client, cast["supervisor"])
    before = _all_entries(client, supervisor)
    # The bidders appear only as companies using the platform (registered, signed in, certified),
    # never with anything that ties them to this tender: no bid, part, deposit or download.
    bid_ids = {bid_id for _b, bid_id, _s in bidders}
    hashes = {e.sealed.decode() for e in parts if e.action == "bidding.bid_part_received"}
    for entry in before:
        text = json.dumps(entry, ensure_ascii=False)
        assert not any(bid_id in text for bid_id in bid_ids)
        assert not any(json.loads(h)["data"]["sha256"] in text for h in hashes)
        if any(org in text for org in orgs) or any(name in text for name in names):
            assert entry["leaf"]["action"] in ACCOUNT_ACTIONS, entry
            assert str(tender.id) not in text
    assert not {e["leaf"].get("action") for e in before} & BID_ACTIONS
    assert _all_entries(client, supervisor, action="bidding.bid_submitted") == []
    assert _all_entries(client, supervisor, target_type="bids") == []
    # Each sealed leaf is in the tree: its index and time, and a commitment, nothing else.
    sealed = session.scalars(select(AuditEntry).where(AuditEntry.seal_scope.is_not(None))).all()
    for entry in sealed:
        leaf = json.loads(entry.leaf)
        assert (
            set(leaf) == {"v", "i", "time", "sealed"}
            and leaf["sealed"] == hashlib.sha256(entry.sealed).hexdigest()
        )
    assert dbverify.verify_database(session).ok
    # The bidder reads its own entries (its receipt names the index); a rival and the supervisor do not.
    bidder, bid_id, _ = bidders[0]
    receipt_index = next(
        e.index for e in sealed if e.action == "bidding.bid_submitted" and e.target_id == bid_id
    )
    clock.advance(timedelta(seconds=31))
    own = client.get(f"/api/v1/audit/entries/{receipt_index}", headers=auth(people, client, bidder.user))
    assert own.status_code == 200
    content = own.get_json()["sealed"]
    assert content["action"] == "bidding.bid_submitted" and content["org"] == str(bidder.user.organization_id)
    assert hashlib.sha256(canonical_json(content)).hexdigest() == own.get_json()["leaf"]["sealed"]
    rival = bidders[1][0]
    assert (
        client.get(
            f"/api/v1/audit/entries/{receipt_index}", headers=auth(people, client, rival.user)
        ).status_code
        == 404
    )
    clock.advance(timedelta(seconds=31))
    assert (
        client.get(
            f"/api/v1/audit/entries/{receipt_index}", headers=auth(people, client, cast["supervisor"])
        ).status_code
        == 404
    )

    # At the deadline the seal lifts: the same filters now find every bid, checked against the tree.
    clock.freeze(tender.bid_deadline)
    after_headers = auth(people, client, cast["supervisor"])
    submitted = _all_entries(client, after_headers, action="bidding.bid_submitted")
    assert {e["sealed"]["org"] for e in submitted} == orgs
    for e in submitted:
        assert hashlib.sha256(canonical_json(e["sealed"])).hexdigest() == e["leaf"]["sealed"]


def test_r_b4_an_amended_deadline_keeps_the_seal_until_the_new_one(
    client, people, cast, session, tender, tmp_path
):
    submit(client, people, session, tender, tmp_path, "early-bird")
    old_deadline = tender.bid_deadline
    # An amendment issued 10 days before the deadline moves it (R-T3).
    clock.freeze(old_deadline - timedelta(days=10))
    response = client.post(
        f"/api/v1/tenders/{tender.id}/amendments",
        json={"title": "修改工程量清单", "body": "第三章 工程量清单 修改如下……", "affects_bids": True},
        headers=auth(people, client, cast["agent"]),
    )
    assert response.status_code == 201, response.get_json()
    session.rollback()
    session.refresh(tender)
    assert tender.bid_deadline > old_deadline
    clock.freeze(old_deadline + timedelta(hours=1))  # past the old deadline, before the new one
    assert (
        _all_entries(client, auth(people, client, cast["supervisor"]), action="bidding.bid_submitted") == []
    )
    clock.freeze(tender.bid_deadline)
    found = _all_entries(client, auth(people, client, cast["supervisor"]), action="bidding.bid_submitted")
    assert len(found) == 1


def test_an_altered_sealed_content_is_named_by_audit_verify(session, people, app):
    """The content kept beside a sealed leaf must open its commitment: a changed byte is caught."""
    import audit

    user = people.user(Role.TENDERER)
    recorded = audit.record(
        session, user, "bidding.bid_opened", ("bids", "x"), {"lot": 1}, None, sealed="tender:t"
    )
    session.commit()
    assert dbverify.verify_database(session).ok
    entry = session.get(AuditEntry, recorded.index)
    tampered = entry.sealed.replace(b'"lot":1', b'"lot":2')
    _allow_tampering(session)  # the operator drops the append-only triggers first
    session.execute(
        AuditEntry.__table__.update().where(AuditEntry.index == recorded.index).values(sealed=tampered)
    )
    session.commit()
    report = dbverify.verify_database(session)
    assert not report.ok and report.bad_leaf == recorded.index and "sealed" in report.problem


def test_the_export_discloses_sealed_contents_once_revealed_and_the_offline_verifier_checks_them(
    app, runner, client, people, cast, session, tender, tmp_path
):
    """Anyone with the export checks offline that what was disclosed is what was logged (R-R1)."""
    submit(client, people, session, tender, tmp_path, "exported")
    early = tmp_path / "early"
    assert runner.invoke(args=["audit", "export", str(early)]).exit_code == 0
    assert (early / DISCLOSED).read_bytes() == b""  # before the deadline nothing is disclosed
    assert b"bidding.bid_submitted" not in (early / "entries.jsonl").read_bytes()
    clock.freeze(tender.bid_deadline)
    late = tmp_path / "late"
    assert runner.invoke(args=["audit", "export", str(late)]).exit_code == 0
    key = (late / "log.pub").read_text().strip()
    report = verify_export(late, Verifier.from_key_string(key))
    assert report.ok and report.disclosed >= 4, report.problem
    lines = (late / DISCLOSED).read_bytes().splitlines()
    forged = [
        line.replace(b'"lot":1', b'"lot":2') if b"bidding.bid_submitted" in line else line for line in lines
    ]
    (late / DISCLOSED).write_bytes(b"\n".join(forged) + b"\n")
    report = verify_export(late, Verifier.from_key_string(key))
    assert not report.ok and "disclosed content does not match its commitment" in report.problem
