"""``python -m bench [NAME ...] [--OPTION ...]``: run the benchmarks (all by default) and print their
figures; options go to each benchmark named.

Each benchmark runs in a process of its own: one's memory and imports must not weigh on the next.
Peak memory is read from ``wait4`` for processes a benchmark starts, and Linux counts in a child's
peak the parent's pages it was forked with: after the audit benchmark (~340 MiB) every seal child
reported 341.6 MiB.
"""

from __future__ import annotations

import subprocess
import sys

BENCHES = (
    "audit",
    "seal",
    "opening",
    "ingest",
    "rush",
    "draw",
    "evaluation",
    "evaluation_pages",
    "api_validation",
    "storage",
    "receipt",
    "bank",
    "browser",
    "hall",
)


def main(argv: list[str]) -> int:
    # Options after the names go to each benchmark: `python -m bench browser --size-mib 1024`.
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option] or list(BENCHES), argv[first_option:]
    failed = []
    for name in names:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        print(f"\n=== bench/{name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}", *options], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfigures NOT met: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
