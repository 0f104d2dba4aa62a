import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.verify import verify_export, verify_leaves
from crypto.merkle import EMPTY_ROOT, Frontier
from crypto.note import format_checkpoint, generate_signer, parse_checkpoint, parse_note, sign_note

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "sunbid.example/audit"
SIGNER = generate_signer(ORIGIN)


def canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_leaves(count: int) -> list[bytes]:
    return [
        canonical(
            {
                "action": "bid.submit",
                "actor": f"u-{i % 7}",
                "data": {"tender": "ZB-2026-000123", "note": "投标文件已加密上传"},
                "i": i,
                "ip": "10.0.0.1",
                "ts": f"2026-05-01T10:00:{i % 60:02d}Z",
            }
        )
        for i in range(count)
    ]


def sign_checkpoints(leaves: list[bytes], sizes, signer=SIGNER) -> list[bytes]:
    notes = []
    for size in sizes:
        frontier = Frontier()
        frontier.extend_leaves(leaves[:size])
        notes.append(sign_note(format_checkpoint(ORIGIN, size, frontier.root()), signer))
    return notes


def write_export(directory: Path, leaves: list[bytes], notes: list[bytes], signer=SIGNER) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "entries.jsonl").write_bytes(b"".join(leaf + b"\n" for leaf in leaves))
    (directory / "checkpoints.txt").write_bytes(b"".join(note + b"\f\n" for note in notes))
    (directory / "log.pub").write_text(signer.verifier().key_string() + "\n")
    return directory


@pytest.fixture
def leaves() -> list[bytes]:
    return make_leaves(40)


@pytest.fixture
def notes(leaves) -> list[bytes]:
    return sign_checkpoints(leaves, [10, 16, 40])


def run_cli(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audit.verify", str(directory), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _root(leaves: list[bytes]) -> bytes:
    frontier = Frontier()
    frontier.extend_leaves(leaves)
    return frontier.root()


def key() -> str:
    return SIGNER.verifier().key_string()


def test_an_intact_export_verifies(tmp_path, leaves, notes):
    export = write_export(tmp_path / "export", leaves, notes)
    result = run_cli(export, "--key", key())
    root = base64.b64encode(_root(leaves)).decode()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"OK: 40 entries, 3 checkpoints, latest size 40 root {root}"
    assert "warning" not in result.stderr


def test_the_key_may_come_from_a_file(tmp_path, leaves, notes):
    export = write_export(tmp_path / "export", leaves, notes)
    key_file = tmp_path / "sunbid-audit.pub"
    key_file.write_text(key() + "\n")
    assert run_cli(export, "--key", str(key_file)).returncode == 0


def test_without_a_key_the_exported_key_is_used_with_a_warning(tmp_path, leaves, notes):
    export = write_export(tmp_path / "export", leaves, notes)
    result = run_cli(export)
    assert result.returncode == 0
    assert "warning" in result.stderr and "log.pub" in result.stderr


def test_an_altered_leaf_is_located_between_checkpoints(tmp_path, leaves, notes):
    leaves[12] = leaves[12].replace("已加密".encode(), "未加密".encode())
    result = run_cli(write_export(tmp_path / "export", leaves, notes), "--key", key())
    assert result.returncode == 1
    assert "checkpoint at size 16 does not match: first divergent range [10, 16)" in result.stdout


def test_a_removed_leaf_is_named(tmp_path, leaves, notes):
    del leaves[12]
    result = run_cli(write_export(tmp_path / "export", leaves, notes), "--key", key())
    assert result.returncode == 1
    assert "leaf 12: index field says 13" in result.stdout


def test_a_swapped_pair_is_named(tmp_path, leaves, notes):
    leaves[20], leaves[21] = leaves[21], leaves[20]
    result = run_cli(write_export(tmp_path / "export", leaves, notes), "--key", key())
    assert result.returncode == 1
    assert "leaf 20: index field says 21" in result.stdout


def test_an_altered_checkpoint_root_breaks_its_signature(tmp_path, leaves, notes):
    text = parse_note(notes[1]).text
    origin, size, _ = text.splitlines()
    signature_lines = notes[1][len(text.encode()) :]
    notes[1] = format_checkpoint(origin, int(size), EMPTY_ROOT).encode() + signature_lines
    result = run_cli(write_export(tmp_path / "export", leaves, notes), "--key", key())
    assert result.returncode == 1
    assert "checkpoint at size 16 (note #2) has a bad signature" in result.stdout


def test_a_checkpoint_signed_by_another_key_is_refused(tmp_path, leaves, notes):
    notes[1] = sign_checkpoints(leaves, [16], signer=generate_signer(ORIGIN))[0]
    result = run_cli(write_export(tmp_path / "export", leaves, notes), "--key", key())
    assert result.returncode == 1
    assert "checkpoint at size 16 (note #2) is not signed by the log's key" in result.stdout


def test_a_checkpoint_beyond_the_export_is_an_error(tmp_path, leaves, notes):
    result = run_cli(write_export(tmp_path / "export", leaves[:30], notes), "--key", key())
    assert result.returncode == 1
    assert "checkpoint at size 40 is beyond the end of the export (30 entries)" in result.stdout


def test_a_cut_off_last_line_is_named(tmp_path, leaves, notes):
    export = write_export(tmp_path / "export", leaves, notes)
    entries = export / "entries.jsonl"
    entries.write_bytes(entries.read_bytes()[:-1])
    report = verify_export(export, SIGNER.verifier())
    assert not report.ok and report.bad_leaf == 39
    assert "no newline" in report.problem


def test_two_signed_roots_for_one_size_are_a_fork(tmp_path, leaves, notes):
    other = list(leaves)
    other[3] = other[3].replace(b"10.0.0.1", b"10.0.0.2")
    notes += sign_checkpoints(other, [16])
    report = verify_export(write_export(tmp_path / "export", leaves, notes), SIGNER.verifier())
    assert not report.ok and report.bad_checkpoint == 16
    assert "different roots" in report.problem


def test_entries_after_the_latest_checkpoint_are_reported_as_unsigned(tmp_path, leaves, notes):
    more = make_leaves(45)
    result = run_cli(write_export(tmp_path / "export", more, notes), "--key", key())
    assert result.returncode == 0
    assert result.stdout.startswith("OK: 45 entries, 3 checkpoints, latest size 40 ")
    assert "last 5 entries are not yet covered" in result.stderr


def test_an_export_without_checkpoints_proves_nothing(tmp_path, leaves):
    report = verify_export(write_export(tmp_path / "export", leaves, []), SIGNER.verifier())
    assert not report.ok and "no signed checkpoints" in report.problem


def test_a_missing_file_is_a_failure(tmp_path, leaves, notes):
    export = write_export(tmp_path / "export", leaves, notes)
    (export / "entries.jsonl").unlink()
    result = run_cli(export, "--key", key())
    assert result.returncode == 1 and "entries.jsonl" in result.stdout


def test_a_bad_key_is_a_usage_error(tmp_path, leaves, notes):
    result = run_cli(write_export(tmp_path / "export", leaves, notes), "--key", "not-a-key")
    assert result.returncode == 2


def test_verify_leaves_takes_leaves_from_any_iterator():
    leaves = make_leaves(10_000)
    notes = sign_checkpoints(leaves, [0, 4096, 5000, 10_000])
    checkpoints = {}
    for note in notes:
        text = parse_note(note).text
        checkpoint = parse_checkpoint(text)
        checkpoints[checkpoint.size] = (checkpoint.root, text)
    report = verify_leaves(iter(leaves), checkpoints)
    assert report.ok and report.entries == 10_000 and report.checkpoints == 4
    assert report.latest_root == checkpoints[10_000][0]

    shifted = leaves[:7000] + leaves[7001:]
    report = verify_leaves(iter(shifted), checkpoints)
    assert not report.ok and report.bad_leaf == 7000
    assert report.problem == "leaf 7000: index field says 7001"

    altered = list(leaves)
    altered[4500] = altered[4500].replace(b"bid.submit", b"bid.delete")
    report = verify_leaves(iter(altered), checkpoints)
    assert not report.ok and report.bad_range == (4096, 5000)


@pytest.mark.parametrize(
    ("leaf", "problem"),
    [
        (b'{"a":1,"i":3}', None),
        (b'{"data":{"i":3},"i":3,"z":0}', None),
        (b'{"i": 3}', None),
        (b'{"data":{"i":4},"i":3}', None),
        (b'{"data":{"j":3},"z":0}', "leaf 3: no index field"),
        (b'{"i":"3"}', 'leaf 3: index field says "3"'),
        (b'{"i":3.0}', "leaf 3: index field says 3.0"),
        (b"[3]", "leaf 3: not a JSON object"),
        (b'{"i":3', "leaf 3: not valid JSON"),
    ],
)
def test_the_index_field_check(leaf, problem):
    leaves = [*make_leaves(3), leaf]
    frontier = Frontier()
    frontier.extend_leaves(leaves)
    report = verify_leaves(leaves, {4: (frontier.root(), "")})
    assert report.problem == problem


def test_the_verifier_runs_without_the_platform():
    probe = (
        "import sys, audit.verify, crypto.merkle, crypto.note; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'sqlalchemy', 'core'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
