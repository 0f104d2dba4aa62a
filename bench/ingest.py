"""Ingest of one 1 GiB sealed bid part over HTTP: the server's memory and its throughput against dd.

    .venv/bin/python -m bench ingest
    .venv/bin/python bench/ingest.py [--size-mib 1024] [--repeat 1] [--dir /tmp]

The server is gunicorn with the project's gunicorn.conf.py and one worker, as production runs it (not
the werkzeug development server: what counts is gunicorn's request-body reader under our streaming
code), on SQLite in a temporary instance: the figure is the streaming path, which the database hardly
touches (HTTP body -> sha256 -> store file -> fsync -> rename -> signature and envelope checks, then one
commit). The client is bidtool's own (bidtool/client.py, urllib streaming from disk). The part is sealed
beforehand with crypto.bidpack as ``bidtool seal`` does; sealing time is not part of the figure.

Figures: the worker's RSS, sampled every 10 ms while the part streams, may grow by at most 64 MiB over
its resting size; the upload (first byte sent to the 201 answer) must run at least half as fast as
``dd if=PART of=FILE bs=1M conv=fdatasync`` writing the same bytes to the same disk in the same run.
Dirty pages are synced before each timing; with ``--repeat`` the best round of each counts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._platform import MIB, bidder, platform, random_file, seal, server

RSS_BUDGET_MIB = 64
MIN_RATIO = 0.5


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.samples = pid, every, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        from tests.servers import rss_kib

        while not self.done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.samples += 1
            time.sleep(self.every)


def dd_seconds(src: Path, dst: Path) -> float:
    os.sync()
    start = time.perf_counter()
    subprocess.run(
        ["dd", f"if={src}", f"of={dst}", "bs=1M", "conv=fdatasync"], check=True, capture_output=True
    )
    elapsed = time.perf_counter() - start
    dst.unlink()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="plaintext size of the part")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best one of each side counts")
    parser.add_argument("--dir", default=None, help="where the store and the files go (same disk for both)")
    args = parser.parse_args(argv)

    from bidtool import client as bidtool
    from tests.servers import rss_kib

    cpus = len(os.sched_getaffinity(0))
    print(f"part {args.size_mib} MiB, {cpus} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sunbid-ingest-", dir=args.dir) as tmp:
        d = Path(tmp)
        p = platform(d, f"sqlite:///{d / 'bench.db'}")
        who = bidder(p, "ingest", deposit=False)
        random_file(d / "src" / "technical.bin", args.size_mib * MIB)
        start = time.perf_counter()
        part, sig = d / "technical.age", d / "technical.age.sig"
        seal(p, who, d / "src", part, "technical")
        (d / "src" / "technical.bin").unlink()
        size = part.stat().st_size
        print(f"sealed {size / MIB:.1f} MiB in {time.perf_counter() - start:.1f} s (not counted)", flush=True)

        srv = server(p, d / "gunicorn.log")
        try:
            [worker] = srv.workers()
            api = bidtool.Api(srv.url, token=who.token)
            bid = api.json("POST", f"/api/v1/tenders/{p.tender.id}/bids", {"lot": 1})
            for _ in range(3):  # let the worker load everything a part upload needs: that is its rest
                api.request("GET", f"/api/v1/tenders/{p.tender.id}/bids")
            uploads, dds, growth = [], [], 0
            for _ in range(args.repeat):
                dds.append(dd_seconds(part, d / "dd.out"))
                os.sync()
                resting = rss_kib(worker)
                sampler = RssSampler(worker)
                sampler.start()
                start = time.perf_counter()
                answer = bidtool.upload_part(api, str(p.tender.id), bid["id"], "technical", part, sig)
                uploads.append(time.perf_counter() - start)
                sampler.done.set()
                sampler.join()
                growth = max(growth, sampler.peak - resting)
                assert answer["size"] == size, answer
            peak_rss = sampler.peak
        finally:
            srv.kill()

    ours, theirs = size / min(uploads) / 1e6, size / min(dds) / 1e6
    ratio = ours / theirs
    print(f"upload to gunicorn (HTTP, sha256, fsync, checks): {min(uploads):.2f} s = {ours:.0f} MB/s")
    print(f"dd bs=1M conv=fdatasync (same bytes, same disk):  {min(dds):.2f} s = {theirs:.0f} MB/s")
    verdict = "OK" if ratio >= MIN_RATIO else "TOO SLOW"
    print(f"ratio upload/dd = {ratio:.2f} (at least {MIN_RATIO}) -> {verdict}")
    grown = growth / 1024
    print(
        f"server worker RSS: resting {resting / 1024:.1f} MiB, peak {peak_rss / 1024:.1f} MiB,"
        f" growth {grown:.1f} MiB ({sampler.samples} samples; budget {RSS_BUDGET_MIB} MiB)"
        f" -> {'OK' if grown <= RSS_BUDGET_MIB else 'OVER BUDGET'}"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if ratio >= MIN_RATIO and grown <= RSS_BUDGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
