"""Opening hall figures: N watchers poll one hall while the bidders decrypt; how soon each decryption shows
on every watcher's board (goal: p95 <= 3 s), what a watcher costs the server, and how many board polls per
second the server answers next to a plain static page from the same gunicorn.

    .venv/bin/python -m bench hall
    .venv/bin/python bench/hall.py [--watchers 300] [--bidders 50] [--workers 2] [--database-url URL]

Set up through the services and the API in-process (not timed): a published tender, ``--bidders``
tenderers with deposits, each submitting a sealed three-part bid; the opening is started at the deadline
by the beat job (bidding.run_openings). Then gunicorn (the project's gunicorn.conf.py: threaded workers)
serves the platform, its sandbox clock at the opening, and:

* ``--watchers`` watchers, each a thread with its own keep-alive connection and the session of one of the
  bidders (several people per company), poll ``/tenders/<id>/hall/board`` as ``static/js/hall.js`` does:
  every 1.5 s with ``If-None-Match`` (a 304 while nothing changed);
* meanwhile the bidders decrypt, one after another every ``--every`` seconds, through the API as
  ``bidtool decrypt`` does. The k-th decryption has shown on a watcher's board when the board it last
  received reads out k prices (唱标); latency = that moment - the moment the decryption request returned.
* the gunicorn processes' CPU time over the watch, per watcher;
* then the capacity: ``--load-threads`` clients as fast as they can, for ``--seconds`` each, against the
  board (a 304, as nearly all polls are) and against ``/static/css/sunbid.css`` from the same gunicorn:
  requests per second and their ratio.

Database: SQLite in a temporary folder by default (embedded mode); ``--database-url`` or
SUNBID_BENCH_DATABASE_URL for PostgreSQL (emptied first, as bench/rush.py does); ``--redis-url`` or
SUNBID_BENCH_REDIS_URL: the web processes' shared hall stamps and renders (HALL_CACHE_URL). The machine is
shared: the watchers' client threads run on the same cores as the server, so the latency is an upper
bound; the benchmark prints the CPU its own process (the load generator) used beside the server's, and
the load average (others' work on the same cores).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import resource
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._platform import bidder, fresh_postgres, platform, seal

GOAL_P95 = 3.0
POLL = 1.5  # static/js/hall.js: bidding.hall_views.POLL_MS
READING = re.compile(rb'class="reading"')
CSRF = re.compile(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class Browser:
    """One watcher's connection: keep-alive, its cookies, as a browser tab holds them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _sep, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response, data

    def sign_in(self, username: str, password: str) -> None:
        _response, page = self.request("GET", "/sign-in")
        token = CSRF.search(page)
        form = {
            "username": username,
            "password": password,
            "csrf_token": token.group(1).decode() if token else "",
        }
        response, _ = self.request(
            "POST",
            "/sign-in",
            urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status != 302 or "/dashboard" not in (response.headers.get("Location") or ""):
            raise RuntimeError(
                f"{username} could not sign in: {response.status} {response.headers.get('Location')}"
            )


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def hammer(
    port: int, path: str, threads: int, seconds: float, headers: dict | None = None, cookies=None
) -> float:
    """Requests per second that ``threads`` clients, each as fast as it can, get answered."""
    done = [0] * threads
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        client = Browser(port)
        if cookies:
            client.cookies = dict(cookies)
        while time.monotonic() < stop:
            response, _ = client.request("GET", path, headers=headers)
            if response.status not in (200, 304):
                raise RuntimeError(f"{path}: {response.status}")
            done[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    begun = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.monotonic() - begun)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=300)
    parser.add_argument("--bidders", type=int, default=50)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between two bidders' decryptions")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--load-threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--database-url", default=os.environ.get("SUNBID_BENCH_DATABASE_URL"))
    parser.add_argument("--dir", default=None)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SUNBID_BENCH_REDIS_URL"),
        help="the web processes' shared hall stamps (HALL_CACHE_URL); without: each re-reads every 0.5 s",
    )
    args = parser.parse_args(argv)

    from bidding import tasks
    from bidding.models import Opening
    from core import clock
    from crypto import age, bidpack
    from tests.bidding.test_bids import new_bid
    from tests.factories import PASSWORD

    if args.database_url and not fresh_postgres(args.database_url):
        return 0
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="sunbid-hall-", dir=args.dir) as tmp:
        d = Path(tmp)
        url = args.database_url or f"sqlite:///{d / 'bench.db'}"
        print(
            f"{args.watchers} watchers, {args.bidders} bidders decrypting one every {args.every} s,"
            f" gunicorn -w {args.workers} (gthread), {'PostgreSQL' if args.database_url else 'SQLite'},"
            f" {cpus} CPUs,"
            f" load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        begun = time.perf_counter()
        p = platform(d, url)
        (d / "files").mkdir()
        (d / "files" / "letter.txt").write_text("投标函\n")
        bids = []
        for i in range(args.bidders):
            p.session.commit()  # end the read snapshot: the requests below wrote since (SQLite)
            who = bidder(p, f"hall{i:03d}")
            headers = {"Authorization": f"Bearer {who.token}"}
            bid_id = new_bid(p.client, headers, p.tender)
            keys = {}
            for part in bidpack.PARTS:
                out = d / "sealed" / who.name / f"{part}.age"
                out.parent.mkdir(parents=True, exist_ok=True)
                signature = seal(p, who, d / "files", out, part)
                body = out.read_bytes()
                response = p.client.put(
                    f"/api/v1/tenders/{p.tender.id}/bids/{bid_id}/parts/{part}",
                    data=body,
                    headers={**headers, "X-Bid-Signature": signature},
                )
                assert response.status_code == 201, response.get_json()
                keys[part] = base64.b64encode(age.unwrap_file_key(body, [who.tenderer.identity])).decode()
            response = p.client.post(f"/api/v1/tenders/{p.tender.id}/bids/{bid_id}/submit", headers=headers)
            assert response.status_code == 201, response.get_json()
            bids.append((who, bid_id, keys))
        p.session.commit()
        clock.freeze(p.tender.bid_deadline + timedelta(seconds=1))
        assert tasks.run_openings() == 1  # the beat job starts it (R-T5)
        p.session.rollback()
        assert p.session.get(Opening, p.tender.id).status == "decrypting"
        print(
            f"set up {args.bidders} sealed bids and the opening: {time.perf_counter() - begun:.1f} s",
            flush=True,
        )

        srv = start_server(p, d / "gunicorn.log", args.workers, args.redis_url)
        try:
            board = f"/tenders/{p.tender.id}/hall/board"
            sessions = []
            for who, _bid, _keys in bids:
                b = Browser(srv.port)
                b.sign_in(who.user.username, PASSWORD)
                sessions.append(dict(b.cookies))
            print(f"{len(sessions)} bidders signed in; watching", flush=True)

            seen: list[list[tuple[float, int]]] = [[] for _ in range(args.watchers)]
            polls = [0] * args.watchers
            not_modified = [0] * args.watchers
            stop = threading.Event()

            def watch(i: int) -> None:
                client = Browser(srv.port)
                client.cookies = dict(sessions[i % len(sessions)])
                etag = None
                time.sleep(POLL * i / args.watchers)  # watchers opened the page at different moments
                while not stop.is_set():
                    response, data = client.request(
                        "GET", board, headers={"If-None-Match": etag} if etag else {}
                    )
                    now = time.monotonic()
                    polls[i] += 1
                    if response.status == 200:
                        etag = response.headers.get("ETag")
                        seen[i].append((now, len(READING.findall(data))))
                    elif response.status == 304:
                        not_modified[i] += 1
                    else:
                        raise RuntimeError(f"board: {response.status}")
                    stop.wait(POLL)

            threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(args.watchers)]
            for t in threads:
                t.start()
            time.sleep(POLL * 2)  # every watcher has its first board
            pids = [srv.proc.pid, *srv.workers()]
            cpu_before, wall_before = cpu_seconds(pids), time.monotonic()
            load_before = own_cpu_seconds()
            done_at = []
            decryptor = Browser(srv.port)
            for who, bid_id, keys in bids:
                response, data = decryptor.request(
                    "POST",
                    f"/api/v1/tenders/{p.tender.id}/bids/{bid_id}/decrypt",
                    json_body(keys),
                    {"Authorization": f"Bearer {who.token}", "Content-Type": "application/json"},
                )
                if response.status != 200:
                    raise RuntimeError(f"decrypt: {response.status} {data[:200]!r}")
                done_at.append(time.monotonic())
                time.sleep(args.every)
            time.sleep(POLL * 2 + 1)
            stop.set()
            for t in threads:
                t.join(timeout=30)
            watched = time.monotonic() - wall_before
            cpu = cpu_seconds(pids) - cpu_before
            load_cpu = own_cpu_seconds() - load_before

            latencies = []
            missed = 0
            for history in seen:
                for k, at in enumerate(done_at, start=1):
                    shown = next((t for t, count in history if count >= k), None)
                    if shown is None:
                        missed += 1
                    else:
                        latencies.append(max(0.0, shown - at))
            total_polls = sum(polls)
            p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
            print(
                f"update latency over {len(latencies)} (watcher, decryption) pairs: p50 {p50:.2f} s, p95"
                f" {p95:.2f} s, max {max(latencies):.2f} s (goal p95 <= {GOAL_P95} s); not shown: {missed}"
            )
            print(
                f"polls: {total_polls / watched:.0f}/s over {watched:.0f} s, "
                f"{100 * sum(not_modified) / max(total_polls, 1):.0f}% answered 304"
            )
            print(
                f"server CPU: {cpu:.1f} s over {watched:.0f} s = {100 * cpu / watched:.0f}% of one core,"
                f" {1000 * cpu / watched / args.watchers:.2f} ms of CPU per second per watcher,"
                f" {1000 * cpu / max(total_polls, 1):.2f} ms per poll"
            )
            print(
                f"load generator (this process: the watchers' threads and the decryptions) on the same"
                f" {cpus} CPUs: {load_cpu:.1f} s = {100 * load_cpu / watched:.0f}% of one core,"
                f" {load_cpu / max(cpu, 1e-9):.2f} x the server's; machine load average"
                f" {os.getloadavg()[0]:.2f} (others' work on the shared cores included)"
            )

            warm = Browser(srv.port)
            warm.cookies = dict(sessions[0])
            etag = warm.request("GET", board)[0].headers.get("ETag")
            board_rps = hammer(
                srv.port, board, args.load_threads, args.seconds, {"If-None-Match": etag}, sessions[0]
            )
            static_rps = hammer(srv.port, "/static/css/sunbid.css", args.load_threads, args.seconds)
            print(
                f"capacity, {args.load_threads} clients flat out: board (304) {board_rps:.0f} req/s,"
                f" static page {static_rps:.0f} req/s, ratio {board_rps / static_rps:.2f};"
                f" at one poll per {POLL} s the board serves about {board_rps * POLL:.0f} watchers"
            )
        except BaseException:
            print((d / "gunicorn.log").read_text()[-3000:])  # why the server did not answer
            raise
        finally:
            srv.kill()
    ok = p95 <= GOAL_P95 and missed == 0
    print("figure met" if ok else "figure NOT met")
    return 0 if ok else 1


def json_body(keys: dict) -> bytes:
    return json.dumps({"file_keys": keys}).encode()


def start_server(p, log: Path, workers: int, redis_url: str | None = None):
    """gunicorn as bench/_platform.server starts it, with room for every bidder to sign in from one
    address (the sign-in limit is per address) and the beat left to the benchmark (production runs
    celery beat elsewhere)."""
    from core import clock
    from tests.servers import Gunicorn, server_clock

    server_clock(p.session, clock.now())
    srv = Gunicorn(p.app.config, log, "--backlog", "2048", workers=workers)
    srv.env["SUNBID_LOGIN_RATE_LIMIT"] = "100000 per minute"
    srv.env["SUNBID_LOGIN_ADDRESS_MAX_FAILURES"] = "100000"
    srv.env["SUNBID_EMBEDDED_BEAT"] = "0"
    if redis_url:
        srv.env["SUNBID_HALL_CACHE_URL"] = redis_url
    return srv.start()


if __name__ == "__main__":
    sys.exit(main())
