"""The witness (c2sp.org/tlog-witness, c2sp.org/tlog-cosignature): an independent party cosigns only a
log that grows; a rolled-back or forked log gets no cosignature (R-R1, issue 18 item 3)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import audit
from audit import cosign, log
from audit.witness import SIZE_TYPE, Witness, request_body
from core.app import create_app
from crypto import cosignature, logproof, merkle, note
from tests.audit.tamper import roll_back

ROOT = Path(__file__).resolve().parents[2]
GO_PROGRAM = Path(__file__).parent / "go" / "verifynote.go"
GO_NOTE = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb/note")


def append(session, n, tag="x"):
    for k in range(n):
        audit.record(session, None, "test.action", ("thing", k), {"k": k, "tag": tag}, None)
    session.commit()


@pytest.fixture
def own_witness(tmp_path):
    """The witness as the supervising authority runs it: its own process (`python -m audit.witness`)."""
    state = tmp_path / "witness"
    run = [sys.executable, "-m", "audit.witness"]
    key = subprocess.run(
        [*run, "init", str(state), "--name", "witness.example.gov.cn/sunbid"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [*run, "serve", str(state), "--listen", "127.0.0.1:0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on "), line
        url = "http://" + line.split()[-1]
        yield {"run": run, "state": state, "key": key, "url": url}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def platform(config, own_witness):
    """The platform configured with that witness, its log registered there by the witness's operator."""
    app = create_app({**config, "WITNESS_URL": own_witness["url"], "WITNESS_KEY": own_witness["key"]})
    with app.app_context():
        from core.db import db

        subprocess.run(
            [
                *own_witness["run"],
                "add-log",
                str(own_witness["state"]),
                "--origin",
                config["AUDIT_ORIGIN"],
                "--key",
                log.verifier().key_string(),
            ],
            cwd=ROOT,
            check=True,
        )
        yield db.session
    app.extensions["sunbid.db"]["engine"].dispose()


def test_a_growing_log_is_cosigned_and_verifies_with_both_keys(platform):
    append(platform, 5)
    first = cosign.publish(platform)
    append(platform, 3)
    second = cosign.publish(platform)
    assert (first.size, second.size) == (5, 8)
    trust = cosign.trust()
    opened = trust.open(second.note)
    assert opened.checkpoint.size == 8 and opened.checkpoint.root == log.head_frontier(platform).root()
    assert set(opened.cosigned_at) == {"witness.example.gov.cn/sunbid"}
    # without the witness's cosignature the log's own signature is not enough
    bare = log.sign_checkpoint(8, opened.checkpoint.root)
    with pytest.raises(logproof.CheckpointNotWitnessed):
        trust.open(bare)


def test_r_r1_a_rolled_back_log_gets_no_cosignature(platform, own_witness):
    append(platform, 6)
    cosign.publish(platform)
    append(platform, 4)
    assert cosign.publish(platform).size == 10
    # The operator swaps in an older, internally consistent copy of the database...
    roll_back(platform, 6)
    with pytest.raises(cosign.WitnessRefused, match="rolled back"):
        cosign.publish(platform, confirm=True)  # what the beat job does every minute
    # ... and carries on from there: a different history past what the witness cosigned.
    append(platform, 7, tag="rewritten")
    with pytest.raises(cosign.WitnessRefused) as refused:
        cosign.publish(platform)
    assert refused.value.status == 422
    assert cosign.latest(platform).size == 6  # nothing new was cosigned
    evidence = subprocess.run(
        [*own_witness["run"], "evidence", str(own_witness["state"])],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "rollback: 6 < 10" in evidence and "inconsistent: 10 -> 13" in evidence


def test_a_forked_checkpoint_at_the_same_size_is_refused(tmp_path):
    witness = Witness.init(tmp_path / "w", "w.example/1")
    signer = note.generate_signer("log.example/a")
    witness.add_log("log.example/a", signer.verifier().key_string())
    leaves = [merkle.leaf_hash(b"%d" % k) for k in range(4)]
    honest = note.sign_note(note.format_checkpoint("log.example/a", 4, merkle.root_of(leaves)), signer)
    assert witness.add_checkpoint(request_body(0, [], honest)).status == 200
    forked_leaves = [*leaves[:3], merkle.leaf_hash(b"forged")]
    forked = note.sign_note(note.format_checkpoint("log.example/a", 4, merkle.root_of(forked_leaves)), signer)
    assert witness.add_checkpoint(request_body(4, [], forked)).status == 409
    # a fork that grows: its consistency proof from the cosigned size cannot verify
    grown = [*forked_leaves, merkle.leaf_hash(b"more")]
    bigger = note.sign_note(note.format_checkpoint("log.example/a", 5, merkle.root_of(grown)), signer)
    proof = merkle.consistency_proof(4, 5, _nodes(grown))
    assert witness.add_checkpoint(request_body(4, proof, bigger)).status == 422
    assert witness.latest("log.example/a")[0] == 4


def _nodes(leaf_hashes):
    def get(wanted):
        found = {}
        for level, index in wanted:
            found[(level, index)] = merkle.root_of(leaf_hashes[index << level : (index + 1) << level])
        return found

    return get


def test_the_witness_answers_as_the_spec_says(tmp_path):
    witness = Witness.init(tmp_path / "w", "w.example/1")
    signer = note.generate_signer("log.example/b")
    root = merkle.root_of([merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")])
    signed = note.sign_note(note.format_checkpoint("log.example/b", 2, root), signer)
    assert witness.add_checkpoint(request_body(0, [], signed)).status == 404  # unknown origin
    witness.add_log("log.example/b", note.generate_signer("log.example/b").verifier().key_string())
    assert witness.add_checkpoint(request_body(0, [], signed)).status == 403  # not the log's key
    witness.add_log("log.example/b", signer.verifier().key_string())
    assert witness.add_checkpoint(request_body(3, [], signed)).status == 400  # old beyond the checkpoint
    assert witness.add_checkpoint(b"old 01\n\n" + signed).status == 400  # not canonical decimal
    answer = witness.add_checkpoint(request_body(0, [], signed))
    assert answer.status == 200 and answer.body.startswith("\u2014 w.example/1 ".encode())
    stale = witness.add_checkpoint(request_body(1, [], signed))
    assert (stale.status, stale.content_type, stale.body) == (409, SIZE_TYPE, b"2\n")
    assert witness.add_checkpoint(request_body(2, [], signed)).status == 200  # the same head again
    cosigned = cosignature.add_signatures(signed, answer.body.decode())
    opened = cosignature.open_cosigned(cosigned, signer.verifier(), [witness.cosigner.verifier()])
    assert opened.checkpoint.size == 2


def test_the_witness_key_is_never_overwritten(tmp_path):
    Witness.init(tmp_path / "w", "w.example/1")
    with pytest.raises(FileExistsError):
        Witness.init(tmp_path / "w", "w.example/1")
    assert oct((tmp_path / "w" / "witness.key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.skipif(shutil.which("go") is None, reason="golang-go missing (scripts/test-deps.sh installs it)")
@pytest.mark.skipif(not GO_NOTE.exists(), reason="golang-golang-x-mod-dev missing")
def test_go_sumdb_note_verifies_a_cosigned_checkpoint(platform, tmp_path):
    """The platform and the witness speak the C2SP formats: the reference Go package agrees."""
    append(platform, 3)
    cosigned = cosign.publish(platform)
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": "/usr/share/gocode",
        "GOCACHE": str(tmp_path / "gocache"),
        "GOFLAGS": "",
    }
    binary = tmp_path / "verifynote"
    subprocess.run(["go", "build", "-o", str(binary), str(GO_PROGRAM)], env=env, check=True, timeout=300)
    keys = [log.verifier().key_string(), cosign.witness_verifiers()[0].key_string()]
    result = subprocess.run(
        [binary, *keys], input=cosigned.note.encode(), capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.startswith(log.checkpoint_text(3, log.head_frontier(platform).root()))
    assert f"verified: {log.verifier().name}" in out and "verified: witness.example.gov.cn/sunbid" in out
    # and it refuses the same checkpoint with a cosignature that does not match
    tampered = cosigned.note.replace(cosigned.note.splitlines()[-1][-8:], "AAAAAAA=")
    result = subprocess.run([binary, *keys], input=tampered.encode(), capture_output=True, check=False)
    assert result.returncode == 1
