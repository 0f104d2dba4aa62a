"""The online opening: R-T5 at the deadline, R-B5 fewer than three bids fail the tender, online
decryption by file key within the window, and the signed opening record (R-B7)."""

import base64
import hashlib
import json
import os
import threading
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.serving import make_server

from accounts import services as account_services
from bidding import periods
from bidding.models import Deposit, Opening, Tender
from bidtool.cli import cli
from core import clock
from crypto import age, bidpack, receipts
from crypto import opening as opening_keys
from crypto.canonical import canonical_json
from tests.bidding.test_bids import Tenderer, new_bid
from tests.bidding.test_ledger import pay
from tests.bidding.test_tenders import auth
from tests.bidding.test_views import sign_in


def submit(client, people, session, tender, tmp_path, name, price_fen=None, project_manager=None):
    """A tenderer with a deposit and a complete sealed bid; returns it with the bid's part files."""
    bidder = Tenderer(people, session, name)
    pay(session, bidder.user, tender)
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    sealed = {}
    for part in bidpack.PARTS:
        body, signature = bidder.seal(
            tmp_path, tender, part, price_fen=price_fen, project_manager=project_manager
        )
        sealed[part] = body
        response = client.put(
            f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/{part}",
            data=body,
            headers={**headers, "X-Bid-Signature": signature},
        )
        assert response.status_code == 201, response.get_json()
    assert (
        client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers).status_code == 201
    )
    clock.advance(timedelta(seconds=31))
    session.commit()  # sealing read the tender: end that snapshot (without expiring objects) before writing
    return bidder, bid_id, sealed


def file_keys(bidder, sealed):
    """What `bidtool decrypt` will do on the tenderer's machine: unwrap each part's file key."""
    return {
        part: base64.b64encode(age.unwrap_file_key(body, [bidder.identity])).decode()
        for part, body in sealed.items()
    }


def decrypt(client, people, tender, bidder, bid_id, keys):
    """Online decryption as `bidtool decrypt` does it: the bidder sends its parts' file keys."""
    response = client.post(
        f"/api/v1/tenders/{tender.id}/bids/{bid_id}/decrypt",
        json={"file_keys": keys},
        headers=auth(people, client, bidder.user),
    )
    clock.advance(timedelta(seconds=31))  # the bidder's next sign-in falls in a fresh TOTP step
    return response


def start(client, people, cast, tender):
    clock.freeze(tender.bid_deadline)
    response = client.post(
        f"/api/v1/tenders/{tender.id}/opening", headers=auth(people, client, cast["agent"])
    )
    clock.advance(timedelta(seconds=31))
    return response


def test_r_t5_the_opening_waits_for_the_deadline(client, people, cast, tender):
    early = client.post(f"/api/v1/tenders/{tender.id}/opening", headers=auth(people, client, cast["agent"]))
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "opening_too_early"


def test_r_b5_fewer_than_three_bids_fail_the_tender_and_refund(
    client, people, cast, session, tender, tmp_path
):
    submit(client, people, session, tender, tmp_path, "only-one")
    submit(client, people, session, tender, tmp_path, "only-two")
    response = start(client, people, cast, tender)
    assert response.status_code == 200 and response.get_json()["status"] == "failed"
    session.expire_all()  # see what the request wrote
    assert session.get(Tender, tender.id).status == "failed"
    reasons = {d.refund_reason for d in session.scalars(select(Deposit))}
    assert reasons == {"failure"}  # R-D3 / 条例31: refunds with interest are scheduled


def test_online_decryption_and_the_signed_opening_record(client, people, cast, session, tender, tmp_path):
    bidders = [submit(client, people, session, tender, tmp_path, f"bidder{n}") for n in range(3)]
    assert start(client, people, cast, tender).get_json()["status"] == "decrypting"
    for bidder, bid_id, sealed in bidders[:2]:
        response = decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
        assert response.status_code == 200, response.get_json()
        assert {r["status"] for r in response.get_json()["results"]} == {"ok"}
    # the third sends a wrong key for its commercial part: that part fails with the age error's code
    bidder, bid_id, sealed = bidders[2]
    keys = file_keys(bidder, sealed)
    keys["commercial"] = base64.b64encode(b"\x00" * 16).decode()
    response = decrypt(client, people, tender, bidder, bid_id, keys)
    results = {r["part"]: r for r in response.get_json()["results"]}
    assert (
        results["commercial"]["status"] == "failed"
        and results["commercial"]["failure_code"] == "header_mac_mismatch"
    )
    clock.advance(timedelta(seconds=31))
    # every bidder, the agency and supervisors see the same signed record
    document = client.get(
        f"/api/v1/tenders/{tender.id}/opening/record", headers=auth(people, client, bidders[0][0].user)
    ).get_data()
    signed = json.loads(document)
    public = receipts.load_public_key_pem(client.get("/api/v1/receipt-key").get_data())
    public.verify(base64.b64decode(signed["signature"]), canonical_json(signed["record"]))
    rows = {row["credit_code"]: row for row in signed["record"]["bids"]}
    first = rows[bidders[0][0].user.organization.credit_code]
    assert first["price_fen"] == 987654321 and first["deposit"]["status"] == "held"
    third = rows[bidder.user.organization.credit_code]
    assert third["price_fen"] is None and third["failures"] == ["header_mac_mismatch"]


def test_r_b6_a_part_is_recorded_as_opened_only_once_its_files_are_on_disk(
    client, people, cast, session, tender, tmp_path, fsynced
):
    bidders = [submit(client, people, session, tender, tmp_path, f"durable{n}") for n in range(3)]
    assert start(client, people, cast, tender).get_json()["status"] == "decrypting"
    bidder, bid_id, sealed = bidders[0]
    fsynced.clear()  # the uploads before were fsynced too; only the decryption counts here
    response = decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    assert {r["status"] for r in response.get_json()["results"]} == {"ok"}
    # Every part's manifest was forced to disk in the opened area before the outcome was committed.
    opened = [path for path in fsynced if path.endswith("manifest.json")]
    assert len(opened) == len(sealed)
    assert all(f"{os.sep}{bid_id}{os.sep}" in path for path in opened)


def test_decryption_window_and_ownership(client, people, cast, session, tender, tmp_path):
    bidders = [submit(client, people, session, tender, tmp_path, f"window{n}") for n in range(3)]
    start(client, people, cast, tender)
    bidder, bid_id, sealed = bidders[0]
    rival = bidders[1][0]
    stolen = decrypt(client, people, tender, rival, bid_id, file_keys(bidder, sealed))
    assert stolen.status_code == 404
    closes = periods.decryption_closes(tender.bid_deadline)  # 30 minutes from the start (at the deadline)
    clock.freeze(closes - timedelta(seconds=1))  # the last second of the window
    _rival, rival_bid, rival_sealed = bidders[1]
    assert (
        decrypt(client, people, tender, rival, rival_bid, file_keys(rival, rival_sealed)).status_code == 200
    )
    clock.freeze(closes)
    late = decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "decryption_window_closed"
    outsider = people.user("tenderer", "outsider")
    clock.advance(timedelta(seconds=31))
    hidden = client.get(f"/api/v1/tenders/{tender.id}/opening/record", headers=auth(people, client, outsider))
    assert hidden.status_code == 404


def test_r_b6_custodians_release_shares_and_the_opening_key_opens_what_owners_could_not(
    app, client, people, cast, session, tender, tmp_path
):
    """A bid its owner could not decrypt is opened with the opening key, rebuilt from 2 of 3 shares."""
    bidders = [submit(client, people, session, tender, tmp_path, f"custody{n}") for n in range(3)]
    start(client, people, cast, tender)
    stranded = bidders[2]  # its owner never decrypts (e.g. lost connection: no fault of its own)
    agent_headers = auth(people, client, cast["agent"])
    too_few = client.post(
        f"/api/v1/tenders/{tender.id}/opening/open-with-key",
        json={"bids": [stranded[1]]},
        headers=agent_headers,
    )
    assert too_few.status_code == 409 and too_few.get_json()["error"]["code"] == "not_enough_shares"
    # the agency releases its share through the API ...
    mine = client.get(f"/api/v1/tenders/{tender.id}/opening/shares/mine", headers=agent_headers).get_json()
    sealed = opening_keys.SealedShare(
        mine["role"], mine["x"], base64.b64decode(mine["sealed"]), mine["share_sha256"]
    )
    share = opening_keys.open_share(sealed, cast["identities"]["agent"])
    forged = client.post(
        f"/api/v1/tenders/{tender.id}/opening/shares",
        json={"share": share.encode()[:-4] + "AAA="},
        headers=agent_headers,
    )
    assert forged.status_code == 422 and forged.get_json()["error"]["code"] == "share_mismatch"
    assert (
        client.post(
            f"/api/v1/tenders/{tender.id}/opening/shares",
            json={"share": share.encode()},
            headers=agent_headers,
        ).status_code
        == 200
    )
    # ... the supervisor with bidtool, its identity never leaving its machine
    clock.advance(timedelta(seconds=31))
    token, _ = account_services.issue_token(session, cast["supervisor"])
    session.commit()
    (tmp_path / "sup-identity.txt").write_text(str(cast["identities"]["watcher"]) + "\n")

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        result = CliRunner().invoke(
            cli,
            [
                "--lang",
                "en",
                "custodian",
                "release",
                "--server",
                f"http://127.0.0.1:{httpd.server_port}",
                "--token",
                token,
                "--identity",
                str(tmp_path / "sup-identity.txt"),
                "--tender",
                str(tender.id),
            ],
        )
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
    assert result.exit_code == 0 and "Released the supervisor share" in result.output
    opened = client.post(
        f"/api/v1/tenders/{tender.id}/opening/open-with-key",
        json={"bids": [stranded[1]]},
        headers=agent_headers,
    )
    assert opened.status_code == 200, opened.get_json()
    assert {r["status"] for r in opened.get_json()["results"]} == {"ok"}
    record = json.loads(
        client.get(f"/api/v1/tenders/{tender.id}/opening/record", headers=agent_headers).get_data()
    )
    row = next(r for r in record["record"]["bids"] if r["bid"] == stranded[1])
    assert row["price_fen"] == 987654321


def test_r_b8_collusion_signals_for_the_supervisor(client, people, cast, session, tender, tmp_path):
    """Same payer account, same machine, identical documents, prices in steps: each flagged (R-B8)."""
    bidders = [
        submit(client, people, session, tender, tmp_path, f"ring{n}", price_fen=price)
        for n, price in enumerate((100_000_00, 100_010_00, 100_020_00))
    ]
    start(client, people, cast, tender)
    for bidder, bid_id, sealed in bidders:
        decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    refused = client.get(
        f"/api/v1/tenders/{tender.id}/opening/signals", headers=auth(people, client, cast["agent"])
    )
    assert refused.status_code == 403
    clock.advance(timedelta(seconds=31))
    found = client.get(
        f"/api/v1/tenders/{tender.id}/opening/signals", headers=auth(people, client, cast["supervisor"])
    ).get_json()["signals"]
    kinds = {s["signal"] for s in found}
    assert kinds == {"same_payer_account", "same_machine", "identical_document", "price_pattern"}
    assert all(s["rule"] == "R-B8" and len(s["organizations"]) == 3 for s in found)
    pattern = next(s for s in found if s["signal"] == "price_pattern")
    assert pattern["pattern"] == "arithmetic" and pattern["prices_fen"] == [
        100_000_00,
        100_010_00,
        100_020_00,
    ]


def test_r_b8_the_same_project_manager_and_the_same_agent(client, people, cast, session, tender, tmp_path):
    """Two companies name one project manager (written differently); two act through one person."""
    bidders = [
        submit(
            client, people, session, tender, tmp_path, "pm-a", price_fen=90_000_00, project_manager="李建国"
        ),
        submit(
            client, people, session, tender, tmp_path, "pm-b", price_fen=95_500_00, project_manager=" 李 建国"
        ),
        submit(
            client, people, session, tender, tmp_path, "pm-c", price_fen=99_300_00, project_manager="王强"
        ),
    ]
    # The agent of pm-b's bid and of pm-c's bid is one person: the same mobile, written two ways.
    bidders[1][0].user.phone, bidders[2][0].user.phone = "138 0013 8000", "+86-13800138000"
    session.commit()
    start(client, people, cast, tender)
    for bidder, bid_id, sealed in bidders:
        decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    found = client.get(
        f"/api/v1/tenders/{tender.id}/opening/signals", headers=auth(people, client, cast["supervisor"])
    ).get_json()["signals"]
    names = [b[0].user.organization.name for b in bidders]
    by_kind = {s["signal"]: s for s in found}
    manager = by_kind["same_project_manager"]
    assert manager["rule"] == "R-B8" and manager["organizations"] == sorted(names[:2])
    assert set(manager["value"].split(" / ")) == {"李建国", "李 建国"}  # as each company wrote it
    assert by_kind["same_agent"]["value"] == "phone:13800138000"
    assert by_kind["same_agent"]["organizations"] == sorted(names[1:])
    assert "price_pattern" not in by_kind  # 90 000, 95 500, 99 300: no regular step
    # The supervisor reads them on the tender page, in words.
    clock.advance(timedelta(seconds=31))  # a fresh TOTP step for the sign-in
    sign_in(client, people, cast["supervisor"])
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    signals = page[page.index('id="collusion-signals"') :]
    assert "同一项目经理" in signals and "李建国" in signals
    assert "由同一委托代理人办理" in signals and "手机 13800138000" in signals
    assert "same_agent</b>" not in signals and "phone:" not in signals


def test_r_b8_the_agent_is_the_submitter_and_the_signers():
    from accounts.models import User
    from bidding.collusion import contacts, person_name

    assert (
        person_name("Ｚｈａｎｇ　Wei") == person_name("zhang wei") == "zhangwei"
    )  # full-width, spaces, case
    assert contacts(User(phone="+86 138-0013-8000", email=" Agent@Example.CN ")) == [
        "phone:13800138000",
        "email:agent@example.cn",
    ]
    assert contacts(User(phone="110", email="")) == []  # too short to be a person's number


def test_r_b8_price_patterns_only_for_regular_steps():
    from bidding.collusion import _runs

    assert _runs([(100, "a"), (200, "b"), (300, "c"), (1000, "d")]) == [
        ("arithmetic", [(100, "a"), (200, "b"), (300, "c")])
    ]
    assert _runs([(100, "a"), (110, "b"), (121, "c")])[0][0] == "geometric"
    assert _runs([(100, "a"), (150, "b"), (310, "c")]) == []  # irregular: no signal
    assert _runs([(100, "a"), (100, "b"), (100, "c")]) == []
    assert _runs([(100, "a"), (200, "b")]) == []  # two prices make no pattern


def test_the_record_and_signals_on_the_tender_page(client, people, cast, session, tender, tmp_path):
    from tests.factories import PASSWORD

    bidders = [submit(client, people, session, tender, tmp_path, f"page{n}") for n in range(3)]
    start(client, people, cast, tender)
    bidder, bid_id, sealed = bidders[0]
    decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    supervisor = cast["supervisor"]
    client.post("/sign-in", data={"username": supervisor.username, "password": PASSWORD})
    client.post("/sign-in/code", data={"code": people.code(supervisor)})
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert 'id="opening-record"' in page and bidder.user.organization.name in page
    assert 'id="collusion-signals"' in page
    client.post("/sign-out")
    assert 'id="opening-record"' not in client.get(f"/tenders/{tender.id}").get_data(
        as_text=True
    )  # anonymous


def test_r_b6_closing_classifies_failures_and_r_b7_objections_go_into_the_record(
    client, people, cast, session, tender, tmp_path
):
    (ok, wrong, silent, unlucky) = [
        submit(client, people, session, tender, tmp_path, name)
        for name in ("fine", "wrong", "silent", "unlucky")
    ]
    assert start(client, people, cast, tender).get_json()["status"] == "decrypting"
    assert decrypt(client, people, tender, ok[0], ok[1], file_keys(ok[0], ok[2])).status_code == 200
    keys = file_keys(wrong[0], wrong[2])
    keys["technical"] = base64.b64encode(b"\x01" * 16).decode()
    decrypt(client, people, tender, wrong[0], wrong[1], keys)
    # A bidder objects at the opening (R-B7); the opening cannot close before the answer.
    objected = client.post(
        f"/api/v1/tenders/{tender.id}/objections",
        json={"stage": "opening", "text": "第三家投标人的报价单未当场公布。"},
        headers=auth(people, client, ok[0].user),
    )
    assert objected.status_code == 201, objected.get_json()
    clock.advance(timedelta(seconds=31))
    agent = lambda: auth(people, client, cast["agent"])  # noqa: E731 - a fresh token per call (TOTP steps)
    early = client.post(f"/api/v1/tenders/{tender.id}/opening/close", json={}, headers=agent())
    clock.advance(timedelta(seconds=31))
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "decryption_window_open"
    clock.advance(timedelta(minutes=31))
    unanswered = client.post(f"/api/v1/tenders/{tender.id}/opening/close", json={}, headers=agent())
    clock.advance(timedelta(seconds=31))
    assert unanswered.status_code == 409 and unanswered.get_json()["error"]["code"] == "objections_unanswered"
    objection_id = objected.get_json()["id"]
    client.post(
        f"/api/v1/tenders/{tender.id}/objections/{objection_id}/answer",
        json={"answer": "报价单已在开标记录中公布，见下表。"},
        headers=agent(),
    )
    clock.advance(timedelta(seconds=31))
    # The agency records that one bidder failed through no fault of its own (the platform was down).
    closed = client.post(
        f"/api/v1/tenders/{tender.id}/opening/close",
        json={"no_fault": {unlucky[1]: "平台解密服务 09:05-09:40 中断"}},
        headers=agent(),
    )
    clock.advance(timedelta(seconds=31))
    assert closed.status_code == 200, closed.get_json()
    signed = json.loads(closed.data)
    public = receipts.load_public_key_pem(client.get("/api/v1/receipt-key").get_data())
    public.verify(base64.b64decode(signed["signature"]), canonical_json(signed["record"]))
    record = signed["record"]
    assert record["status"] == "closed"
    outcomes = {row["bid"]: (row["outcome"], row["outcome_reason"]) for row in record["bids"]}
    assert outcomes[ok[1]] == ("opened", None)
    assert outcomes[wrong[1]] == ("revoked", "header_mac_mismatch")  # the tenderer's fault: 撤销
    assert outcomes[silent[1]] == ("revoked", "not_decrypted")
    assert outcomes[unlucky[1]] == ("withdrawn", "平台解密服务 09:05-09:40 中断")  # no fault: 撤回
    assert [o["answer"] for o in record["objections"]] == ["报价单已在开标记录中公布，见下表。"]
    session.rollback()
    deposits = {d.organization_id: d for d in session.scalars(select(Deposit))}
    status = {
        name: deposits[b[0].user.organization_id].status
        for name, b in zip("ABCD", (ok, wrong, silent, unlucky), strict=True)
    }
    assert status == {"A": "held", "B": "forfeited", "C": "forfeited", "D": "refund_due"}
    # The record is kept as signed at the close, and nothing is decrypted any more.
    again = client.get(f"/api/v1/tenders/{tender.id}/opening/record", headers=agent())
    clock.advance(timedelta(seconds=31))
    served = json.loads(again.data)
    proof = served.pop("proof")
    assert canonical_json(served) == closed.data  # kept as signed at the close
    # ... and now with the log proof of the closing entry, which names the record's SHA-256 (issue 18)
    assert json.loads(proof["leaf"])["data"]["record_sha256"] == hashlib.sha256(closed.data).hexdigest()
    late = decrypt(client, people, tender, silent[0], silent[1], file_keys(silent[0], silent[2]))
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "opening_not_decrypting"


def test_r_b6_no_fault_names_only_bids_of_this_opening(client, people, cast, session, tender, tmp_path):
    for name in ("nf1", "nf2", "nf3"):
        submit(client, people, session, tender, tmp_path, name)
    start(client, people, cast, tender)
    clock.advance(timedelta(minutes=31))
    response = client.post(
        f"/api/v1/tenders/{tender.id}/opening/close",
        json={"no_fault": {"00000000-0000-0000-0000-000000000000": "x"}},
        headers=auth(people, client, cast["agent"]),
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_no_fault"
    session.rollback()
    assert {d.status for d in session.scalars(select(Deposit))} == {"held"}  # nothing half-done


def test_r_b6_a_certificate_revoked_after_the_bid_was_received_does_not_fail_it(
    client, people, cast, session, tender, tmp_path
):
    """The inner signature is judged as at receipt, by the CRL in force then (kept in the CRL history)."""
    from accounts import pki
    from accounts.models import CrlRecord

    bidders = [submit(client, people, session, tender, tmp_path, f"revoked{n}") for n in range(3)]
    first, bid_id, sealed = bidders[0]
    clock.advance(timedelta(hours=1))
    pki.revoke(session, first.user, format(first.cert.serial_number, "x"), "key_compromise")
    session.commit()
    start(client, people, cast, tender)  # the opening publishes a fresh CRL listing the revocation
    session.rollback()
    assert session.scalars(select(CrlRecord)).all()  # every published CRL is kept
    response = decrypt(client, people, tender, first, bid_id, file_keys(first, sealed))
    assert response.status_code == 200, response.get_json()
    assert {r["status"] for r in response.get_json()["results"]} == {"ok"}


def test_r_b6_a_bid_received_while_the_crl_had_lapsed_opens_as_it_was_accepted(
    client, people, cast, session, tender, tmp_path
):
    """With no CRL refresh for a while (the beat job down), the upload that finds the last CRL stale
    must be judged at receipt and at the opening by the same CRL. The CRL published at that check is
    dated after the upload completed, and judged by it at the opening a sound bid failed with
    crl_invalid (seen on the demo tender whenever its bidding day began after the CRL lapsed)."""
    from datetime import UTC, datetime

    from accounts import pki

    pki.current_crl(session)
    session.commit()
    bidders = [submit(client, people, session, tender, tmp_path, f"lapsed{n}") for n in range(2)]
    late = Tenderer(people, session, "lapsed-late")
    pay(session, late.user, tender)
    headers = auth(people, client, late.user)
    bid_id = new_bid(client, headers, tender)
    sealed = {part: late.seal(tmp_path, tender, part) for part in bidpack.PARTS}
    session.commit()
    moment = clock.advance(pki.CRL_LIFETIME + timedelta(hours=1))
    assert moment < tender.bid_deadline
    clock.freeze(None)  # the clock runs during the uploads, as it does in service
    clock.set_offset(moment - datetime.now(UTC))
    try:
        for part, (body, signature) in sealed.items():
            response = client.put(
                f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/{part}",
                data=body,
                headers={**headers, "X-Bid-Signature": signature},
            )
            assert response.status_code == 201, response.get_json()
        submitted = client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
        assert submitted.status_code == 201
    finally:
        clock.set_offset(timedelta(0))
        clock.freeze(moment + timedelta(minutes=1))
    bidders.append((late, bid_id, {part: body for part, (body, _) in sealed.items()}))
    start(client, people, cast, tender)
    for bidder, bid, parts in bidders:
        response = decrypt(client, people, tender, bidder, bid, file_keys(bidder, parts))
        assert response.status_code == 200, response.get_json()
        assert [r["status"] for r in response.get_json()["results"]] == ["ok"] * len(bidpack.PARTS)


def release_shares(client, people, cast, tender):
    """The agency and the supervisor release their opening-key shares (2 of 3: enough)."""
    for who, name in ((cast["agent"], "agent"), (cast["supervisor"], "watcher")):
        headers = auth(people, client, who)
        mine = client.get(f"/api/v1/tenders/{tender.id}/opening/shares/mine", headers=headers).get_json()
        sealed = opening_keys.SealedShare(
            mine["role"], mine["x"], base64.b64decode(mine["sealed"]), mine["share_sha256"]
        )
        share = opening_keys.open_share(sealed, cast["identities"][name])
        released = client.post(
            f"/api/v1/tenders/{tender.id}/opening/shares", json={"share": share.encode()}, headers=headers
        )
        assert released.status_code == 200, released.get_json()
        clock.advance(timedelta(seconds=31))


def test_r_b1_a_part_sealed_to_another_key_fails_through_the_tenderers_fault(
    client, people, cast, session, tender, tmp_path
):
    """R-B1: the platform cannot see a stanza's recipient, so a part sealed to some other key plus the
    tenderer's own is accepted. If its owner does not decrypt it and the rebuilt opening key cannot
    either, the failure is the tenderer's (revoked, R-B6), with the evidence in the signed record."""
    honest = [submit(client, people, session, tender, tmp_path, f"b1-{n}") for n in range(3)]
    sly = Tenderer(people, session, "b1-sly")
    pay(session, sly.user, tender)
    headers = auth(people, client, sly.user)
    bid_id = new_bid(client, headers, tender)
    elsewhere = age.generate_identity().recipient  # not the tender's opening key
    for part in bidpack.PARTS:
        recipients = [elsewhere, sly.identity.recipient] if part == "commercial" else None
        body, signature = sly.seal(tmp_path, tender, part, recipients=recipients)
        accepted = client.put(
            f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/{part}",
            data=body,
            headers={**headers, "X-Bid-Signature": signature},
        )
        assert accepted.status_code == 201, accepted.get_json()  # two stanzas: all the platform can check
    assert (
        client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers).status_code == 201
    )
    clock.advance(timedelta(seconds=31))
    session.commit()

    start(client, people, cast, tender)
    for bidder, honest_bid, sealed in honest:
        assert (
            decrypt(client, people, tender, bidder, honest_bid, file_keys(bidder, sealed)).status_code == 200
        )
    clock.advance(timedelta(minutes=31))  # the window closes; the sly tenderer never decrypted
    release_shares(client, people, cast, tender)
    agent = lambda: auth(people, client, cast["agent"])  # noqa: E731 - a fresh token per call (TOTP steps)
    opened = client.post(
        f"/api/v1/tenders/{tender.id}/opening/open-with-key", json={"bids": [bid_id]}, headers=agent()
    )
    clock.advance(timedelta(seconds=31))
    assert opened.status_code == 200, opened.get_json()
    results = {r["part"]: r for r in opened.get_json()["results"]}
    assert results["commercial"]["failure_code"] == "no_matching_identity"
    assert {results[p]["status"] for p in ("qualification", "technical")} == {"ok"}

    # Recording it as no fault of the tenderer is refused, and changes nothing.
    claimed = client.post(
        f"/api/v1/tenders/{tender.id}/opening/close", json={"no_fault": {bid_id: "网络中断"}}, headers=agent()
    )
    clock.advance(timedelta(seconds=31))
    assert claimed.status_code == 422, claimed.get_json()
    assert claimed.get_json()["error"]["code"] == "tenderer_at_fault"
    assert claimed.get_json()["error"]["details"] == {"bids": [bid_id], "rule": "R-B6"}
    session.rollback()
    assert session.get(Opening, tender.id).status == "decrypting"
    session.rollback()

    closed = client.post(f"/api/v1/tenders/{tender.id}/opening/close", json={}, headers=agent())
    assert closed.status_code == 200, closed.get_json()
    row = next(r for r in json.loads(closed.data)["record"]["bids"] if r["bid"] == bid_id)
    assert (row["outcome"], row["outcome_reason"]) == ("revoked", "no_matching_identity")
    evidence = row["opening_key_evidence"]["commercial"]
    assert evidence["stored_sha256"] == evidence["signed_sha256"]  # exactly what the tenderer signed
    assert evidence["x25519_recipients"] == 2 and evidence["opening_key"] == tender.opening_key.recipient
    assert evidence["failure"] == "no_matching_identity"
    assert set(row["opening_key_evidence"]) == {"commercial"}
    session.rollback()
    deposit = session.scalars(
        select(Deposit).where(Deposit.organization_id == sly.user.organization_id)
    ).one()
    assert deposit.status == "forfeited"
