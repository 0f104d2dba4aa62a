"""Deadline rush: 200 tenderers upload 5 MiB bids at once to gunicorn on PostgreSQL over loopback.

    .venv/bin/python -m bench rush
    .venv/bin/python bench/rush.py [--tenderers 200] [--workers 4] [--database-url URL] [--dir /tmp]

The tenderers (accounts, organisations, signing certificates, deposits, API tokens) are made through
the services directly, and each seals its bid beforehand (three parts: 1 + 3 + 1 MiB of files, as
``bidtool seal`` does); none of that is timed. Then every tenderer, in its own thread released at the
same instant, does what ``bidtool submit`` does with bidtool's own client: open a bid, upload the three
sealed parts (streamed, signature in X-Bid-Signature), submit, and keep the signed receipt. The time
per tenderer is from its first request to its receipt: p50, p90, p99 and the slowest are printed.

Then the figure is checked: every tenderer got a receipt that verifies offline with the platform's
receipt key and names exactly the parts it sent (sha256, size); the database holds exactly that many
submitted bids for the tender, none lost, and every part's file is in the store with its hash.

PostgreSQL: ``--database-url`` or SUNBID_BENCH_DATABASE_URL, by default the CI's server with a database
of the benchmark's own (postgresql+psycopg://sunbid:sunbid@127.0.0.1:5432/sunbid_bench, emptied first;
create it with ``createdb -O sunbid sunbid_bench``). If it cannot be reached the benchmark prints
"skipped: no PostgreSQL" and exits 0. The server is gunicorn with the project's gunicorn.conf.py
(threaded workers) and ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._platform import (
    MIB,
    bidder,
    platform,
    postgres_reachable,
    random_file,
    reset_postgres,
    seal,
    server,
)

DEFAULT_URL = "postgresql+psycopg://sunbid:sunbid@127.0.0.1:5432/sunbid_bench"
PART_MIB = {"qualification": 1, "technical": 3, "commercial": 1}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(4 * MIB):
            digest.update(block)
    return digest.hexdigest()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenderers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--database-url", default=os.environ.get("SUNBID_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--dir", default=None, help="where the store and the sealed bids go")
    args = parser.parse_args(argv)

    why = postgres_reachable(args.database_url)
    if why is not None:
        print(f"skipped: no PostgreSQL ({why})")
        return 0
    from bidtool import client as bidtool
    from crypto import bidpack, receipts

    n = args.tenderers
    cpus = len(os.sched_getaffinity(0))
    print(
        f"{n} tenderers, bids of {sum(PART_MIB.values())} MiB in 3 parts, gunicorn -w {args.workers}"
        f" (gthread), PostgreSQL, {cpus} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    reset_postgres(args.database_url)
    with tempfile.TemporaryDirectory(prefix="sunbid-rush-", dir=args.dir) as tmp:
        d = Path(tmp)
        start = time.perf_counter()
        p = platform(d, args.database_url)
        bidders = [bidder(p, f"rush{i:03d}") for i in range(n)]
        took = time.perf_counter() - start
        print(f"set up {n} tenderers with certificates, deposits and tokens: {took:.1f} s")
        start = time.perf_counter()
        for part, size in PART_MIB.items():
            random_file(d / "files" / part / f"{part}.pdf", size * MIB)
        sealed: list[dict[str, tuple[Path, Path]]] = []
        expected: list[dict[str, tuple[str, int]]] = []
        for who in bidders:
            folder = d / "sealed" / who.name
            folder.mkdir(parents=True)
            mine, hashes = {}, {}
            for part in bidpack.PARTS:
                out = folder / f"{part}.age"
                seal(p, who, d / "files" / part, out, part)
                mine[part] = (out, Path(f"{out}.sig"))
                hashes[part] = (sha256_file(out), out.stat().st_size)
            sealed.append(mine)
            expected.append(hashes)
        total = sum(size for bid in expected for _sha, size in bid.values())
        print(
            f"sealed {n} bids, {total / MIB:.0f} MiB in all: {time.perf_counter() - start:.1f} s", flush=True
        )

        srv = server(p, d / "gunicorn.log", "--backlog", str(max(2048, 2 * n)), workers=args.workers)
        try:
            public = receipts.load_public_key_pem(srv.request("GET", "/api/v1/receipt-key")[1])
            gate = threading.Barrier(n)

            def rush(i: int) -> tuple[float, bytes | Exception]:
                api = bidtool.Api(srv.url, token=bidders[i].token, timeout=900)
                gate.wait()
                begun = time.perf_counter()
                try:
                    receipt = bidtool.submit_bid(api, str(p.tender.id), 1, sealed[i])
                except Exception as exc:  # counted as a lost bid below
                    return time.perf_counter() - begun, exc
                return time.perf_counter() - begun, receipt

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=n) as pool:
                results = list(pool.map(rush, range(n)))
            wall = time.perf_counter() - start
        finally:
            srv.kill()

        failures, receipts_ok = [], 0
        for i, (_took, outcome) in enumerate(results):
            if isinstance(outcome, Exception):
                failures.append(f"{bidders[i].name}: {outcome}")
                continue
            try:
                payload = receipts.verify_receipt(outcome, public)
            except Exception as exc:  # a receipt that does not verify is as good as none
                failures.append(f"{bidders[i].name}: receipt does not verify: {exc}")
                continue
            named = {e["part"]: (e["sha256"], e["size"]) for e in payload["parts"]}
            if named != expected[i] or payload["tenderer"] != bidders[i].user.organization.credit_code:
                failures.append(f"{bidders[i].name}: the receipt names other parts or another tenderer")
                continue
            receipts_ok += 1

        from sqlalchemy import func, select

        from bidding.models import Bid, BidPart
        from core.storage import file_store

        session = p.session
        session.rollback()
        submitted = session.scalar(
            select(func.count())
            .select_from(Bid)
            .where(Bid.tender_id == p.tender.id, Bid.status == "submitted")
        )
        store = file_store(p.app)
        parts = session.scalars(
            select(BidPart).join(Bid).where(Bid.tender_id == p.tender.id, Bid.status == "submitted")
        ).all()
        missing = [
            r.sha256
            for r in parts
            if not store.exists(r.sha256) or sha256_file(store.path_for(r.sha256)) != r.sha256
        ]
        wanted = {sha for bid in expected for sha, _size in bid.values()}
        kept = {r.sha256 for r in parts}

    times = [took for took, outcome in results if not isinstance(outcome, Exception)]
    print()
    print(f"all {n} started together; the last receipt came {wall:.1f} s later")
    print(f"{total / MIB:.0f} MiB received: {total / wall / 1e6:.0f} MB/s overall")
    if times:
        print(
            "time per tenderer, first request to receipt:"
            f" p50 {percentile(times, 50):.2f} s, p90 {percentile(times, 90):.2f} s,"
            f" p99 {percentile(times, 99):.2f} s, slowest {max(times):.2f} s"
        )
    print(f"receipts that verify offline and name the parts sent: {receipts_ok} of {n}")
    print(
        f"submitted bids in the database: {submitted} (expected {n}); parts: {len(parts)} (expected {3 * n})"
    )
    print(
        f"part files missing or corrupt in the store: {len(missing)}; sent but not kept: {len(wanted - kept)}"
    )
    for line in failures[:10]:
        print(f"  LOST {line}")
    met = receipts_ok == n and submitted == n and len(parts) == 3 * n and not missing and wanted == kept
    print(f"every bid got its receipt, none lost -> {'OK' if met else 'FAILED'}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
