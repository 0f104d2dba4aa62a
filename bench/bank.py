"""Bank statement import figure (issue 14 item 5): a 100,000-line statement against 10,000 open deposits.

    python -m bench bank
    python -m bench.bank [--lines 100000] [--open 10000] [--runs 3] [--format csv|camt053] [--keep DIR]

Goal: the median of 3 imports under 10 s and its peak memory under 200 MiB.

The database (SQLite, migrated, in a temporary folder) holds 100 published tenders and 100 tenderers with
their basic accounts, and a payment reference for each pair: 10,000 deposits waiting for the bank. A
previous statement with 20,000 lines was imported already. The statement imported (CSV as the bank exports
it, GB18030) has 100,000 lines: 10,000 payments that match their reference (deposits held), 20,000 lines
of the previous statement again (duplicates), 10,000 lines in another currency (foreign), 50,000 credits
without a reference and 10,000 debits that are no refund (unmatched: booked to suspense, one ledger
transaction each). Each run imports it into a fresh copy of that database, in a process of its own;
what is timed is ``bank.import_statement`` (reading the file, matching, writing every row, the ledger
and the audit line) and the commit. Peak memory is the child's maximum resident set (``wait4``), the
Python interpreter and the application included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TIME_GOAL_S = 10.0
MEMORY_GOAL_MIB = 200
TENDERS = 100


def _app(folder: Path):
    from core.app import create_app

    return create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "CELERY_EAGER": True,
        }
    )


def prepare(folder: Path, lines: int, open_deposits: int, fmt: str) -> Path:
    """The database with its open references and an earlier statement; returns the statement to import."""
    from alembic import command
    from sqlalchemy import insert

    from accounts.models import Organization, User
    from bidding import bank
    from bidding.models import DepositReference, Lot, Tender
    from core import clock
    from core.cli import alembic_config
    from core.db import db
    from demo import bank as demo_bank
    from demo.accounts import credit_code

    app = _app(folder)
    with app.app_context():
        command.upgrade(alembic_config(), "head")
        session = db.session
        now = clock.now()
        tenderers = open_deposits // TENDERS
        orgs = [
            {
                "id": uuid.uuid4(),
                "name": f"投标企业{k:05d}有限公司",
                "credit_code": credit_code("110108", 70000000 + k),
                "kind": "tenderer",
                "basic_account_bank": "中国工商银行北京分行",
                "basic_account_no": f"6222020200{k:09d}",
                "created_at": now,
            }
            for k in range(tenderers)
        ]
        agency = {
            "id": uuid.uuid4(),
            "name": "代理",
            "credit_code": credit_code("110108", 79999998),
            "kind": "agency",
        }
        tenderee = {
            "id": uuid.uuid4(),
            "name": "招标人",
            "credit_code": credit_code("110108", 79999999),
            "kind": "tenderee",
        }
        session.execute(
            insert(Organization), [*orgs, {**agency, "created_at": now}, {**tenderee, "created_at": now}]
        )
        users = [
            {
                "id": uuid.uuid4(),
                "username": f"bench{k}",
                "display_name": f"bench{k}",
                "email": f"bench{k}@example.cn",
                "role": "tenderer",
                "organization_id": org["id"],
                "password_hash": "x",
            }
            for k, org in enumerate(orgs)
        ]
        agent = {
            **users[0],
            "id": uuid.uuid4(),
            "username": "agent",
            "role": "agency",
            "organization_id": agency["id"],
        }
        session.execute(insert(User), [*users, agent])
        account = bank.deposit_account()
        tenders = [
            {
                "id": uuid.uuid4(),
                "code": f"ZB-2026-{k + 1:06d}",
                "title": f"基准测试项目{k}",
                "category": "房屋建筑",
                "agency_id": agency["id"],
                "tenderee_id": tenderee["id"],
                "created_by_id": agent["id"],
                "estimated_price_fen": 100_000_000,
                "deposit_fen": 2_000_000,
                "status": "published",
                "documents_from": now - timedelta(days=5),
                "documents_to": now + timedelta(days=5),
                "clarification_deadline": now + timedelta(days=6),
                "objection_deadline": now + timedelta(days=10),
                "bid_deadline": now + timedelta(days=20),
                "published_at": now - timedelta(days=5),
            }
            for k in range(TENDERS)
        ]
        session.execute(insert(Tender), tenders)
        session.execute(
            insert(Lot),
            [
                {
                    "tender_id": t["id"],
                    "number": 1,
                    "name": "一标段",
                    "estimated_price_fen": 100_000_000,
                    "deposit_fen": 2_000_000,
                }
                for t in tenders
            ],
        )
        references = []
        for t in tenders:
            sub = f"{account.sub_prefix}26{t['code'][-6:]}"
            for org, user in zip(orgs, users, strict=True):
                references.append(
                    {
                        "id": uuid.uuid4(),
                        "reference": bank.new_reference(bank.DEPOSIT_PREFIX),
                        "tender_id": t["id"],
                        "lot_number": 1,
                        "organization_id": org["id"],
                        "sub_account": sub,
                        "amount_fen": 2_000_000,
                        "issued_by_id": user["id"],
                        "created_at": now,
                    }
                )
        session.execute(insert(DepositReference), references)
        session.commit()

        paid_at = now - timedelta(days=1)
        by_org = {o["id"]: o for o in orgs}
        matching = [
            demo_bank.Line(
                r["amount_fen"],
                by_org[r["organization_id"]]["basic_account_no"],
                by_org[r["organization_id"]]["name"],
                f"{r['reference']} 投标保证金",
                paid_at,
                sub_account=r["sub_account"],
            )
            for r in references
        ]
        previous = [
            demo_bank.Line(100 + k, f"6217{k:012d}", f"往来单位{k}", "往来款", paid_at) for k in range(20_000)
        ]
        data = demo_bank.csv_statement(account.number, account.name, previous)
        bank.import_statement(session, None, filename="previous.csv", data=data)
        session.commit()
        rest = lines - len(matching) - len(previous)
        foreign = [
            demo_bank.Line(5_000 + k, f"6217{k:012d}", "外币客户", "USD", paid_at, currency="USD")
            for k in range(rest // 7)
        ]
        debits = [
            demo_bank.Line(-(300 + k), f"6217{k:012d}", "某供应商", "手续费", paid_at)
            for k in range(rest // 7)
        ]
        credits = [
            demo_bank.Line(10_000 + k, f"6228{k:012d}", f"汇款人{k}", "保证金", paid_at)
            for k in range(rest - len(foreign) - len(debits))
        ]
        statement = [*matching, *previous, *foreign, *credits, *debits]
        if fmt == "csv":
            payload = demo_bank.csv_statement(account.number, account.name, statement)
        else:
            payload = demo_bank.camt053_statement(account.number, account.name, statement)
        path = folder / f"statement.{fmt}"
        path.write_bytes(payload)
    return path


def child(folder: Path, statement: Path) -> None:
    """One import, timed, in this process (its peak memory is read by the parent)."""
    from bidding import bank
    from core.db import db

    app = _app(folder)
    with app.app_context():
        data = statement.read_bytes()
        started, cpu = time.perf_counter(), time.process_time()
        result = bank.import_statement(db.session, None, filename=statement.name, data=data)
        db.session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        json.dumps({"seconds": seconds, "cpu": cpu, "counts": result.counts, "lines": result.statement.lines})
    )


def run_once(template: Path, statement: Path, work: Path) -> tuple[float, float, dict]:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work)
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bank", "--child", str(work), str(statement)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"the import failed (status {status})")
    result = json.loads(out)
    return result["seconds"], usage.ru_maxrss / 1024, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=10_000, dest="open_deposits")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--format", choices=("csv", "camt053"), default="csv")
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.prepare:
        print(prepare(args.prepare, args.lines, args.open_deposits, args.format))
        return 0
    base = args.keep or Path(tempfile.mkdtemp(prefix="sunbid-bench-bank-"))
    template = base / "template"
    template.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # In a process of its own: a child forked from a parent that had built the data would count the
    # parent's pages in its own peak (bench/__main__.py).
    prepared = subprocess.run(
        [
            *(sys.executable, "-m", "bench.bank", "--prepare", str(template)),
            *("--lines", str(args.lines), "--open", str(args.open_deposits), "--format", args.format),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    statement = Path(prepared.stdout.strip().splitlines()[-1])
    size = statement.stat().st_size / 1024 / 1024
    print(
        f"prepared in {time.perf_counter() - started:.1f} s: {args.open_deposits} open deposits, "
        f"a {args.lines}-line statement ({args.format}, {size:.1f} MiB)"
    )
    runs = []
    for n in range(args.runs):
        seconds, mib, result = run_once(template, statement, base / "run")
        runs.append((seconds, mib))
        print(
            f"  run {n + 1}: {seconds:.2f} s ({result['cpu']:.2f} s CPU), peak {mib:.0f} MiB",
            result["counts"],
        )
    seconds = statistics.median(s for s, _m in runs)
    mib = statistics.median(m for _s, m in runs)
    ok = seconds < TIME_GOAL_S and mib < MEMORY_GOAL_MIB
    load = os.getloadavg()[0]
    print(
        f"statement import ({args.format}), median of {args.runs}: {seconds:.2f} s "
        f"(goal < {TIME_GOAL_S:.0f} s), "
        f"peak {mib:.0f} MiB (goal < {MEMORY_GOAL_MIB} MiB): {'met' if ok else 'NOT met'}"
        f"  [load average {load:.1f} on {os.cpu_count()} cores]"
    )
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
