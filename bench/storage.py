"""Storage check figure (issue 18): ``flask storage verify`` hashes every stored file against its recorded
digest at most 1.2 times as long as ``sha256sum`` takes for the same files, measured in the same run.

    .venv/bin/python -m bench.storage [--gib 10] [--file-mib 20] [--repeat 3] [--dir /tmp]

Fills a file store with random bid-part-sized files (``--gib`` in all, scaled down with a note when the
disk has less than twice that free), then alternates, round by round: the check as the command runs it
(``core.storage.verify_files`` over the files' recorded digests: every file read and hashed, the result
compared) and ``sha256sum`` over the same paths in one process. The files are in the page cache for
both (the machine has room for them), so the figure compares hashing and reading, not the disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024
TARGET = 1.2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.storage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=10.0)
    parser.add_argument("--file-mib", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    from core.storage import FileOwner, FileStore, verify_files

    folder = Path(tempfile.mkdtemp(prefix="sunbid-bench-storage-", dir=args.dir))
    try:
        free = shutil.disk_usage(folder).free / 2**30
        gib = args.gib
        if free < 2 * gib:
            gib = max(0.5, free / 2 - 1)
            print(f"note: only {free:.1f} GiB free, scaled down to {gib:.1f} GiB")
        store = FileStore(folder / "store")
        count = max(1, int(gib * 1024 // args.file_mib))
        owners, paths = [], []
        began = time.perf_counter()
        for n in range(count):
            stored = store.put_bytes(os.urandom(args.file_mib * MIB))
            owners.append(FileOwner(stored.sha256, stored.size, "ZB-BENCH", f"bid {n} technical"))
            paths.append(str(store.path_for(stored.sha256)))
        total = count * args.file_mib * MIB
        print(
            f"{count} files of {args.file_mib} MiB ({total / 2**30:.1f} GiB) written in"
            f" {time.perf_counter() - began:.0f} s; {len(os.sched_getaffinity(0))} CPUs,"
            f" load average {os.getloadavg()[0]:.2f}"
        )

        def ours() -> float:
            start = time.perf_counter()
            findings = verify_files(store, owners)
            elapsed = time.perf_counter() - start
            if not all(f.ok for f in findings):
                raise SystemExit("the check found a bad file in a fresh store")
            return elapsed

        def sha256sum() -> float:
            start = time.perf_counter()
            subprocess.run(["sha256sum", *paths], check=True, stdout=subprocess.DEVNULL)
            return time.perf_counter() - start

        ratios = []
        for rnd in range(args.repeat):
            order = [("storage verify", ours), ("sha256sum", sha256sum)]
            if rnd % 2:
                order.reverse()
            times = {name: fn() for name, fn in order}
            ratios.append(times["storage verify"] / times["sha256sum"])
            print(
                f"  round {rnd + 1}: storage verify {times['storage verify']:.2f} s"
                f" ({total / times['storage verify'] / 1e6:.0f} MB/s), sha256sum {times['sha256sum']:.2f} s,"
                f" ratio {ratios[-1]:.2f}"
            )
        ratio = statistics.median(ratios)
        met = ratio <= TARGET
        print(
            f"storage verify / sha256sum over {total / 2**30:.1f} GiB, median of {len(ratios)} rounds ="
            f" {ratio:.2f} (target <= {TARGET}) -> {'met' if met else 'NOT met'}"
        )
        return 0 if met else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
