"""``python -m bench [NAME ...]``: run the benchmarks (all by default) and print their figures."""

from __future__ import annotations

import importlib
import sys

BENCHES = ("audit", "seal", "opening", "ingest", "rush", "draw", "evaluation")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    failed = []
    for name in names:
        print(f"\n=== bench/{name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        if module.main([]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfigures NOT met: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
