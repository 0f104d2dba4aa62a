"""The tamper-evident log (R-R1, issue 2 item 5): appends, checkpoints, proofs, verification."""

import base64
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

import audit
from audit import log
from audit.models import AuditCheckpoint, AuditEntry, AuditHead
from core import clock
from core.db import db, write_intent
from core.roles import Role
from crypto import merkle, note


def append(session, n, action="test.action", **data):
    for k in range(n):
        audit.record(session, None, action, ("thing", k), {"k": k, **data}, "127.0.0.1")
    session.commit()


def all_leaf_hashes(session):
    return session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.index)).all()


def test_entries_are_gapless_and_checkpoint_signs_the_root(session):
    append(session, 5)
    append(session, 3)
    indexes = session.scalars(select(AuditEntry.index).order_by(AuditEntry.index)).all()
    assert indexes == list(range(8))
    _size, signed = log.current_checkpoint(session)
    checkpoint = note.parse_checkpoint(note.open_note(signed.encode(), [log.verifier()]))
    assert checkpoint.size == 8
    assert checkpoint.root == merkle.root_of(all_leaf_hashes(session))


def test_leaf_is_canonical_json_with_who_what_where(session, people):
    user = people.user(Role.TENDERER, "leafy")
    audit.record(session, user, "bids.submitted", ("bids", "b-1"), {"parts": 3}, "10.1.2.3")
    session.commit()
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.index.desc())).first()
    import json

    leaf = json.loads(entry.leaf)
    assert leaf["actor"] == str(user.id) and leaf["role"] == "tenderer"
    assert leaf["org"] == str(user.organization_id) and leaf["ip"] == "10.1.2.3"
    assert leaf["action"] == "bids.submitted" and leaf["target"] == {"type": "bids", "id": "b-1"}
    assert leaf["time"].endswith("Z") and leaf["i"] == entry.index
    assert entry.leaf == json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_a_rolled_back_change_leaves_no_entry(session):
    append(session, 2)
    audit.record(session, None, "test.rolled_back", None, {}, None)
    session.rollback()
    append(session, 1)
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "test.rolled_back" not in actions and len(actions) == 3
    assert session.get(AuditHead, 1).size == 3


def test_floats_and_secrets_shapes_are_refused(session):
    from core.errors import Invalid

    with pytest.raises(Invalid) as err:
        audit.record(session, None, "test.float", None, {"price": 1.5}, None)
    assert err.value.code == "audit_data_invalid"


def test_checkpoint_history_is_kept_every_n_entries_or_seconds(app, session):
    app.config["AUDIT_CHECKPOINT_EVERY"] = 4
    for _ in range(5):
        append(session, 2)
    sizes = session.scalars(select(AuditCheckpoint.size).order_by(AuditCheckpoint.size)).all()
    assert sizes == [2, 6, 10]
    clock.advance(timedelta(seconds=app.config["AUDIT_CHECKPOINT_SECONDS"]))
    append(session, 1)
    assert session.scalar(select(func.max(AuditCheckpoint.size))) == 11


def test_inclusion_and_consistency_proofs_verify(client, session, people):
    append(session, 37)
    supervisor = people.user(Role.SUPERVISOR, "sup-proof")
    token = people.token(client, supervisor)
    auth = {"Authorization": f"Bearer {token}"}
    checkpoint = client.get("/api/v1/audit/checkpoint").get_json()
    size = checkpoint["size"]
    root = note.parse_checkpoint(
        note.open_note(
            checkpoint["checkpoint"].encode(), [note.Verifier.from_key_string(checkpoint["verifier_key"])]
        )
    ).root
    for index in (0, 17, size - 1):
        body = client.get(
            f"/api/v1/audit/proofs/inclusion?index={index}&size={size}", headers=auth
        ).get_json()
        proof = [base64.b64decode(h) for h in body["proof"]]
        assert merkle.verify_inclusion(base64.b64decode(body["leaf_hash"]), index, size, proof, root)
        assert not merkle.verify_inclusion(base64.b64decode(body["leaf_hash"]), index ^ 1, size, proof, root)
    leaves = all_leaf_hashes(session)
    for old in (1, 16, 20, size):
        body = client.get(f"/api/v1/audit/proofs/consistency?from={old}&to={size}").get_json()
        proof = [base64.b64decode(h) for h in body["proof"]]
        assert merkle.verify_consistency(old, size, merkle.root_of(leaves[:old]), root, proof)


def test_proof_requests_out_of_range_are_422(client, session, people):
    append(session, 3)
    response = client.get("/api/v1/audit/proofs/consistency?from=2&to=99")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "size_out_of_range"
    assert client.get("/api/v1/audit/proofs/consistency?from=x&to=2").status_code == 422


def test_inclusion_proof_only_for_supervisor_or_the_actor(client, session, people):
    actor = people.user(Role.TENDERER, "actor1")
    other = people.user(Role.TENDERER, "other1")
    audit.record(session, actor, "test.mine", None, {}, None)
    session.commit()
    index = session.scalar(select(func.max(AuditEntry.index)))
    size = session.get(AuditHead, 1).size
    url = f"/api/v1/audit/proofs/inclusion?index={index}&size={size}"
    own = client.get(url, headers={"Authorization": f"Bearer {people.token(client, actor)}"})
    assert own.status_code == 200
    foreign = client.get(url, headers={"Authorization": f"Bearer {people.token(client, other)}"})
    assert foreign.status_code == 403


def test_entries_api_is_for_supervisors(client, session, people):
    append(session, 3, action="bidding.tender_published")
    supervisor = people.user(Role.SUPERVISOR, "sup-list")
    tenderer = people.user(Role.TENDERER, "t-list")
    refused = client.get(
        "/api/v1/audit/entries", headers={"Authorization": f"Bearer {people.token(client, tenderer)}"}
    )
    assert refused.status_code == 403
    body = client.get(
        "/api/v1/audit/entries?action=bidding.&per_page=2",
        headers={"Authorization": f"Bearer {people.token(client, supervisor)}"},
    ).get_json()
    assert (
        body["total"] == 3
        and len(body["items"]) == 2
        and body["items"][0]["leaf"]["action"].startswith("bidding.")
    )


def _allow_tampering(session):
    """What an attacker with the database owner's rights would do first."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_entries_no_update"))
        session.execute(text("DROP TRIGGER audit_entries_no_delete"))


def test_the_database_refuses_update_and_delete(session):
    append(session, 2)
    for statement in (
        "UPDATE audit_entries SET action = 'x' WHERE \"index\" = 0",
        'DELETE FROM audit_entries WHERE "index" = 1',
    ):
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 2


def test_verify_passes_then_names_the_altered_leaf(runner, session):
    append(session, 40)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.startswith("OK: 40 entries")
    _allow_tampering(session)
    forged = session.scalar(select(AuditEntry.leaf).where(AuditEntry.index == 23)).replace(
        b'"k":23', b'"k":99'
    )
    session.execute(text('UPDATE audit_entries SET leaf = :leaf WHERE "index" = 23'), {"leaf": forged})
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "leaf 23" in result.output


def test_verify_names_a_deleted_leaf(runner, session):
    append(session, 30)
    _allow_tampering(session)
    session.execute(text('DELETE FROM audit_entries WHERE "index" = 11'))
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "leaf 11" in result.output


def test_verify_refuses_a_checkpoint_signed_by_another_key(runner, session):
    append(session, 5)
    forged = note.sign_note(log.checkpoint_text(3, b"\x00" * 32), note.generate_signer("sunbid.local/audit"))
    session.add(AuditCheckpoint(size=3, created_at=clock.now(), note=forged.decode()))
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "size 3" in result.output


def test_verify_catches_a_rewritten_tail_that_no_kept_checkpoint_covers(runner, session):
    append(session, 3)
    append(session, 2)  # not yet in the history: only the head's frontier covers entries 3 and 4
    _allow_tampering(session)
    forged = session.scalar(select(AuditEntry.leaf).where(AuditEntry.index == 4)).replace(b'"k":1', b'"k":7')
    session.execute(text('UPDATE audit_entries SET leaf = :leaf WHERE "index" = 4'), {"leaf": forged})
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "leaf 4" in result.output


def test_concurrent_appends_get_distinct_gapless_indexes(app, session):
    errors = []

    def worker(n):
        try:
            write_intent.set(True)
            with app.app_context():
                for k in range(10):
                    audit.record(db.session, None, "test.concurrent", None, {"w": n, "k": k}, None)
                    db.session.commit()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    session.rollback()
    assert session.scalars(select(AuditEntry.index).order_by(AuditEntry.index)).all() == list(range(40))
    from audit.dbverify import verify_database

    assert verify_database(session).ok


def test_export_verifies_offline_with_nothing_but_the_key(runner, session, tmp_path):
    append(session, 70)
    out = tmp_path / "export"
    assert runner.invoke(args=["audit", "export", str(out)]).exit_code == 0
    key = runner.invoke(args=["audit", "key"]).output.strip()
    result = subprocess.run(
        [sys.executable, "-m", "audit.verify", str(out), "--key", key],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 70 entries" in result.stdout
    lines = (out / "entries.jsonl").read_bytes().splitlines(keepends=True)
    lines[5] = lines[5].replace(b'"k":5', b'"k":6')
    (out / "entries.jsonl").write_bytes(b"".join(lines))
    result = subprocess.run(
        [sys.executable, "-m", "audit.verify", str(out), "--key", key],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1


def test_beat_job_keeps_a_checkpoint_for_a_quiet_tail(app, session):
    from audit.tasks import keep_checkpoint

    append(session, 3)
    append(session, 2)  # within the interval: the history stops at 3
    assert session.scalar(select(func.max(AuditCheckpoint.size))) == 3
    session.rollback()  # end the test's read snapshot before the task writes
    keep_checkpoint.delay()
    assert session.scalar(select(func.max(AuditCheckpoint.size))) == 5
    session.rollback()
    keep_checkpoint.delay()  # idempotent
    assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 2
    assert app.extensions["celery"].conf.beat_schedule["audit-keep-checkpoint"]["schedule"] == 60.0
