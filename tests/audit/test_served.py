"""`audit verify` checks everything that is served (issue 18 item 4): the stored tree nodes and leaf hashes
the inclusion proofs are built from, every column the supervisors' searches filter on, and, given a
checkpoint the caller trusts, that the log was not rolled back (R-R1)."""

from sqlalchemy import select, text

import audit
from audit import log
from audit.models import AuditEntry, node_key
from tests.audit.tamper import allow_tampering, roll_back


def append(session, n, action="test.action"):
    for k in range(n):
        audit.record(session, None, action, ("thing", k), {"k": k}, "127.0.0.1")
    session.commit()


def test_an_altered_filter_column_is_named(runner, session, client, people):
    from core.roles import Role

    append(session, 12)
    audit.record(session, None, "bidding.bid_submitted", ("bids", "b-9"), {"k": 9}, "10.0.0.9")
    session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    allow_tampering(session, "audit_entries")
    # the entry now hides from a supervisor's search for submissions; its leaf is untouched
    session.execute(text("UPDATE audit_entries SET action = 'test.action' WHERE \"index\" = 12"))
    session.commit()
    supervisor = people.user(Role.SUPERVISOR, "searcher")
    listed = client.get(
        "/api/v1/audit/entries?action=bidding.bid_submitted",
        headers={"Authorization": f"Bearer {people.token(client, supervisor)}"},
    ).get_json()
    assert listed["items"] == []  # what the operator achieved...
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1  # ... and what verify says about it
    assert "leaf 12: the action column says 'test.action'" in result.output


def test_an_altered_address_or_time_column_is_named(runner, session):
    append(session, 5)
    allow_tampering(session, "audit_entries")
    session.execute(text("UPDATE audit_entries SET ip = '10.9.9.9' WHERE \"index\" = 3"))
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "leaf 3: the address column" in result.output


def test_an_altered_tree_node_is_named(runner, session):
    append(session, 20)
    allow_tampering(session, "audit_nodes")
    key = node_key(2, 1)  # the perfect subtree over leaves 4-7
    session.execute(text("UPDATE audit_nodes SET hash = :h WHERE id = :id"), {"h": b"\x00" * 32, "id": key})
    session.commit()
    # the proof served for leaf 1 (whose audit path holds that node) no longer verifies...
    from crypto import merkle

    size, _ = log.current_checkpoint(session)
    leaf_hash = session.scalar(select(AuditEntry.leaf_hash).where(AuditEntry.index == 1))
    proof = log.inclusion_proof(session, 1, size)
    assert not merkle.verify_inclusion(leaf_hash, 1, size, proof, log.head_frontier(session).root())
    # ... and verify names the node
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "tree node at level 2, index 1 (leaves 4-7) is altered" in result.output


def test_an_altered_stored_leaf_hash_is_named(runner, session):
    append(session, 9)
    allow_tampering(session, "audit_entries")
    session.execute(text('UPDATE audit_entries SET leaf_hash = :h WHERE "index" = 8'), {"h": b"\x01" * 32})
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "leaf 8: the stored leaf hash" in result.output


def test_against_a_trusted_checkpoint_a_rollback_is_refused(runner, session, tmp_path):
    append(session, 7)  # the backup the operator will restore is taken here
    append(session, 3)
    _size, trusted = log.current_checkpoint(session)
    (tmp_path / "trusted.txt").write_text(trusted)
    append(session, 5)
    assert runner.invoke(args=["audit", "verify", "--against", str(tmp_path / "trusted.txt")]).exit_code == 0
    roll_back(session, 7)  # an older copy of the database, consistent in itself
    plain = runner.invoke(args=["audit", "verify"])
    assert plain.exit_code == 0  # on its own the copy verifies: only a saved checkpoint shows
    result = runner.invoke(args=["audit", "verify", "--against", str(tmp_path / "trusted.txt")])
    assert result.exit_code == 1
    assert "rolled back: the trusted checkpoint has 10 entries, the log holds 7" in result.output


def test_against_a_checkpoint_of_a_rewritten_history(runner, session, tmp_path):
    append(session, 4)
    append(session, 2)
    _size, trusted = log.current_checkpoint(session)
    (tmp_path / "trusted.txt").write_text(trusted)
    roll_back(session, 4)
    append(session, 3, action="test.rewritten")  # a different history past entry 4
    result = runner.invoke(args=["audit", "verify", "--against", str(tmp_path / "trusted.txt")])
    assert result.exit_code == 1 and "checkpoint at size 6 does not match" in result.output


def test_the_ranges_checked_in_parallel_find_what_one_pass_finds(session, monkeypatch):
    """A large log is checked by one worker process per core, each over its own range (audit.dbscan),
    the parent checking the tree above the ranges (R-R1). Forced here on a log just past 2**13 leaves:
    two ranges, and a level-13 node that only the parent checks. Each tampering is named alike by one
    pass and by the workers."""
    import uuid

    from audit import dbverify, seals

    monkeypatch.setattr(dbverify, "PARALLEL_FROM", 0)
    scope = seals.tender_scope(uuid.uuid4())
    for k in range(9000):
        audit.record(
            session,
            None,
            "test.action",
            ("thing", k),
            {"k": k},
            "127.0.0.1",
            sealed=scope if k % 997 == 0 else None,
        )
        if k % 3000 == 2999:
            session.commit()
    session.commit()

    def both() -> tuple[str | None, str | None]:
        session.rollback()
        one, two = dbverify.verify_database(session, workers=1), dbverify.verify_database(session, workers=2)
        session.rollback()
        assert (one.ok, one.bad_leaf, one.problem) == (two.ok, two.bad_leaf, two.problem)
        return one.problem, two.problem

    assert dbverify._ranges(9000, 2) == [(0, 4096), (4096, 9000)]
    assert both() == (None, None)
    allow_tampering(session, "audit_entries", "audit_nodes")
    key = node_key(13, 0)  # leaves 0-8191: above the ranges' own levels (dbscan.TOP_LEVEL = 12)
    kept = session.scalar(text("SELECT hash FROM audit_nodes WHERE id = :id"), {"id": key})
    session.execute(text("UPDATE audit_nodes SET hash = :h WHERE id = :id"), {"h": b"\x00" * 32, "id": key})
    session.commit()
    assert "tree node at level 13, index 0 (leaves 0-8191) is altered" in both()[1]
    session.execute(text("UPDATE audit_nodes SET hash = :h WHERE id = :id"), {"h": kept, "id": key})
    session.execute(text("UPDATE audit_entries SET target_id = '1' WHERE \"index\" = 7000"))
    session.commit()
    assert "leaf 7000: the target id column says '1'" in both()[1]
    session.execute(text("UPDATE audit_entries SET target_id = '7000' WHERE \"index\" = 7000"))
    session.execute(text('UPDATE audit_entries SET sealed = :s WHERE "index" = 5982'), {"s": b"{}"})
    session.commit()
    assert both()[1] == "leaf 5982: the sealed content does not match its commitment"
