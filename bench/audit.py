"""Audit log figures (issue 2): append rate, `audit verify` at 1,000,000 entries, proof latency.

    python -m bench.audit [--entries 1000000]

Targets: appending through audit.record on SQLite >= 2,000 entries/s; sealed entries (issue 12) at
>= 0.8 of the plain append rate in the same run; verifying >= half the rate of
plain hashlib.sha256 over the same leaf bytes, measured in the same run; inclusion and consistency
proofs at 1,000,000 entries <= 5 ms each.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text


def make_app(folder: Path):
    from alembic import command

    from core.app import create_app
    from core.cli import alembic_config

    app = create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "CELERY_EAGER": True,
        }
    )
    with app.app_context():
        command.upgrade(alembic_config(), "head")
    return app


def append_rate(app, n: int, per_commit: int, sealed: str | None = None) -> float:
    """Entries per second through audit.record; ``sealed`` appends sealed entries (commitment in the
    leaf, content beside it: what a bid's entries are before the deadline, audit.seals)."""
    import audit
    from core.db import db, write_intent

    write_intent.set(True)
    with app.app_context():
        session = db.session
        start = time.perf_counter()
        for k in range(n):
            audit.record(
                session,
                None,
                "bench.append",
                ("bids", f"b{k}"),
                {"k": k, "note": "投标文件已接收"},
                "127.0.0.1",
                sealed=sealed,
            )
            if (k + 1) % per_commit == 0:
                session.commit()
        session.commit()
        return n / (time.perf_counter() - start)


def grow(app, total: int) -> None:
    import audit
    from core.db import db, write_intent

    write_intent.set(True)
    with app.app_context():
        session = db.session
        have = session.execute(text("SELECT size FROM audit_head")).scalar()
        k = have
        while k < total:
            for _ in range(min(5000, total - k)):
                audit.record(
                    session,
                    None,
                    "bench.fill",
                    ("tenders", f"t{k % 977}"),
                    {"k": k, "phase": "opening"},
                    "10.0.0.1",
                )
                k += 1
            session.commit()
            print(f"\r  filling the log: {k:,}/{total:,}", end="", flush=True)
        print()


def verify_vs_hashlib(app, rounds: int = 5) -> tuple[list[float], list[float], int]:
    """``rounds`` of plain hashlib over the leaves and ``audit verify`` of the database, back to back
    in each round (the machine is shared: a round's ratio compares like with like)."""
    from audit.dbverify import default_workers, verify_database
    from core.db import db

    with app.app_context():
        session = db.session
        leaves = [
            bytes(r[0]) for r in session.execute(text('SELECT leaf FROM audit_entries ORDER BY "index"'))
        ]
        session.rollback()
        sha256 = hashlib.sha256
        plain, verify, entries = [], [], 0
        for _ in range(rounds):
            start = time.perf_counter()
            for leaf in leaves:
                sha256(leaf).digest()
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            report = verify_database(session, workers=default_workers())
            verify.append(time.perf_counter() - start)
            session.rollback()
            assert report.ok, report.problem
            entries = report.entries
        return plain, verify, entries


def proof_times(app, size: int, samples: int = 200) -> tuple[float, float]:
    from audit import log
    from core.db import db

    rng = random.Random(7)
    with app.app_context():
        session = db.session
        inclusion, consistency = [], []
        for _ in range(samples):
            index = rng.randrange(size)
            start = time.perf_counter()
            log.inclusion_proof(session, index, size)
            inclusion.append(time.perf_counter() - start)
            old = rng.randrange(1, size)
            start = time.perf_counter()
            log.consistency_proof(session, old, size)
            consistency.append(time.perf_counter() - start)
        return statistics.median(inclusion) * 1000, statistics.median(consistency) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.audit")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the database in this folder")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="sunbid-bench-audit-"))
    folder.mkdir(parents=True, exist_ok=True)
    app = make_app(folder)
    ok = True

    one = append_rate(app, 2000, 1)
    batch = append_rate(app, 10000, 100)
    print(f"append through audit.record, 100 per commit: {batch:8,.0f} entries/s (target >= 2,000)")
    print(
        f"append with a commit per entry:              {one:8,.0f} entries/s "
        "(SQLAlchemy session begin/commit and SQLite's commit included)"
    )
    ok &= batch >= 2000

    # Sealed entries (issue 12) against plain ones, back to back in each round: median of 5 ratios.
    sealed_ratios = []
    for _ in range(5):
        plain_rate = append_rate(app, 5000, 100)
        sealed_rate = append_rate(app, 5000, 100, sealed="tender:bench")
        sealed_ratios.append(sealed_rate / plain_rate)
    sealed_ratio = statistics.median(sealed_ratios)
    print(
        f"append of sealed entries / plain entries, 100 per commit: {sealed_ratio:.2f}, median of 5 rounds"
        f" ({min(sealed_ratios):.2f}..{max(sealed_ratios):.2f}; target >= 0.80)"
    )
    ok &= sealed_ratio >= 0.8

    grow(app, args.entries)
    plain, verify, n = verify_vs_hashlib(app)
    ratios = [p / v for p, v in zip(plain, verify, strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"audit verify over {n:,} entries: {statistics.median(verify):.2f} s; plain hashlib.sha256 over"
        f" the same leaves: {statistics.median(plain):.2f} s; rate ratio, median of {len(ratios)} rounds"
        f" {ratio:.2f} (rounds {min(ratios):.2f}..{max(ratios):.2f}; target >= 0.50)"
    )
    ok &= ratio >= 0.5

    inc, con = proof_times(app, n)
    print(
        f"proofs at {n:,} entries, median of 200: inclusion {inc:.2f} ms, consistency {con:.2f} ms "
        f"(target <= 5 ms)"
    )
    ok &= inc <= 5 and con <= 5
    print("audit figures met" if ok else "audit figures NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
