"""Sealing and uploading in the browser (issue 15) against bidtool and curl, side by side in one run.

    .venv/bin/python -m bench browser
    .venv/bin/python bench/browser.py [--size-mib 256] [--dir /tmp]

One tenderer (certificate, key files written as bidtool writes them) and a tender open for bids, on
gunicorn (tests/servers.py) over SQLite in a temporary instance. The same random file of N MiB is
sealed as the technical part twice:

* ``bidtool seal`` (a subprocess, as a tenderer runs it: start-up, the 600,000 PBKDF2 rounds of its
  key file, tar, hashes, age, signatures);
* the tender page in Chromium (Playwright), from the click on "Seal and upload" to the moment the
  page starts the upload, with the keys already unlocked: the Web Workers read the file, hash it,
  tar, encrypt to two recipients, write the ciphertext to the origin-private file system, hash it
  and sign twice.

Figures: browser seal time / bidtool seal time (goal <= 2.0); the page's memory, JS heap + workers
(goal < 256 MiB): the peak over the run of the sum, over the page and each of its workers, of V8's
heap (committed) and the ArrayBuffer and WASM memory it holds, sampled every 200 ms through the
DevTools protocol (Runtime.getHeapUsage on every target); beside it the renderer process's private
RSS (RssAnon, Chromium's own code and caches included) from /proc; the page's resumable upload of
its sealed part (chunks hashed and fsynced by the platform) as throughput against ``curl -T`` of
bidtool's sealed part to the platform's one-request upload on the same server (goal >= 0.5).
SQLite by default, as ``make run`` has; ``--database-url`` or SUNBID_BENCH_DATABASE_URL for PostgreSQL.
Then the part the platform received from the browser is opened with ``age -d`` and its tar listed,
so that a fast but wrong seal cannot pass.

BENCH_CHROMIUM_ARGS adds switches to Chromium's command line, for looking inside a run: with
``--js-flags=--perf-basic-prof``, ``perf record -a -g`` names the workers' JavaScript and WASM.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Error as PlaywrightError

from bench._platform import MIB, bidder, fresh_postgres, platform, random_file, server

# The page's own measure of its primitives, in a worker of the sealing script (seal-worker.js).
PRIMITIVES_JS = """() => new Promise((resolve) => {
  const page = document.querySelector("script[src*='bundles/workbench']").src;
  const worker = new Worker(new URL("seal-worker.js", page));
  worker.onmessage = (event) => { worker.terminate(); resolve(event.data); };
  worker.postMessage({ role: "primitives" });
})"""
PASSPHRASE = "bench passphrase 2026"  # noqa: S105 - a throwaway key made for the run
SEAL_GOAL, MEMORY_GOAL_MIB, UPLOAD_GOAL = 2.0, 256, 0.5


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        found.extend(children)
        frontier.extend(children)
    return found


def _renderer_rss_kib(field: str = "VmRSS:") -> int:
    """The largest RSS among the Chromium renderers this process started (the page and its workers)."""
    peak = 0
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"--type=renderer" not in cmdline:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = self.peak_anon = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, _renderer_rss_kib())
            self.peak_anon = max(self.peak_anon, _renderer_rss_kib("RssAnon:"))
            self.done.wait(0.1)


class HeapSampler:
    """JS heap + ArrayBuffer/WASM memory of the page and every worker, through a browser-level DevTools
    session (workers are targets of their own; Playwright's sync API cannot run in a thread, so the
    caller samples between its own waits)."""

    def __init__(self, browser, page) -> None:
        self.cdp = browser.new_browser_cdp_session()
        self.page = page
        self.sessions: dict[str, str] = {}
        self.replies: dict[int, dict] = {}
        self.next_id = 0
        self.peak = 0
        self.peak_at: dict[str, int] = {}
        self.workers_seen = 0
        self.cdp.on("Target.receivedMessageFromTarget", self._receive)

    def _receive(self, event: dict) -> None:
        message = json.loads(event["message"])
        if "id" in message:
            self.replies[message["id"]] = message

    def _send(self, method: str, params: dict) -> dict | None:
        try:
            return self.cdp.send(method, params)
        except PlaywrightError:  # the worker ended between two calls
            return None

    def sample(self) -> None:
        targets = [
            t for t in self.cdp.send("Target.getTargets")["targetInfos"] if t["type"] in ("page", "worker")
        ]
        asked: dict[int, str] = {}
        for target in targets:
            tid = target["targetId"]
            if tid not in self.sessions:
                attached = self._send("Target.attachToTarget", {"targetId": tid, "flatten": False})
                if attached is None:
                    continue
                self.sessions[tid] = attached["sessionId"]
                self.workers_seen += target["type"] == "worker"
            self.next_id += 1
            message = json.dumps({"id": self.next_id, "method": "Runtime.getHeapUsage"})
            to = {"sessionId": self.sessions[tid], "message": message}
            if self._send("Target.sendMessageToTarget", to) is not None:
                asked[self.next_id] = target["type"]
        deadline = time.monotonic() + 2
        while any(i not in self.replies for i in asked) and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)
        total, by_type = 0, {"page": 0, "worker": 0}
        for i, kind in asked.items():
            usage = self.replies.pop(i, {}).get("result")
            if usage:
                held = usage["totalSize"] + usage.get("backingStorageSize", 0)
                total += held
                by_type[kind] += held
        if total > self.peak:
            self.peak, self.peak_at = total, by_type


def _native_primitives() -> dict[str, float]:
    """MB/s of the SHA-256 (hashlib) and ChaCha20-Poly1305 (cryptography) that bidtool seals with, over
    the same 64 MiB of 64 KiB pieces as the page's measure (seal-worker.js, role "primitives")."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    piece, rounds = os.urandom(64 * 1024), 1024
    digest = hashlib.sha256()
    began = time.perf_counter()
    for _ in range(rounds):
        digest.update(piece)
    sha256 = rounds * len(piece) / 1e6 / (time.perf_counter() - began)
    aead, nonce = ChaCha20Poly1305(os.urandom(32)), bytes(12)
    began = time.perf_counter()
    for _ in range(rounds):
        aead.encrypt(nonce, piece, None)
    return {"sha256": sha256, "chacha20poly1305": rounds * len(piece) / 1e6 / (time.perf_counter() - began)}


def floor_seconds(size: int, rates: dict[str, float], cpus: int) -> float:
    """The least time sealing ``size`` bytes can take with these primitives: three passes (SHA-256 of
    the files for the manifest, ChaCha20-Poly1305 for the payload, SHA-256 of the ciphertext for the
    signed statement), each on one core at most, all sharing ``cpus`` cores; reading, tar, copies and
    writing counted as free."""
    passes = [1 / rates["sha256"], 1 / rates["chacha20poly1305"], 1 / rates["sha256"]]  # µs per byte
    return size / 1e6 * max(sum(passes) / min(cpus, len(passes)), max(passes))


def chunked_floor_seconds(size: int, rates: dict[str, float], cpus: int) -> float:
    """The same least time for a format (not ours) that hashed files and ciphertext in 16 MiB pieces:
    both hash passes in WebCrypto, and every pass split over all cores (age's 64 KiB STREAM chunks are
    sealed independently), reading and writing again counted as free."""
    per_byte = 2 / rates["webcrypto_sha256"] + 1 / rates["chacha20poly1305"]
    return size / 1e6 * per_byte / cpus


def _open_received(p, who, identity: Path) -> str:
    """``age -d`` of the part the platform keeps from the browser's upload, its tar listed."""
    import shutil

    from sqlalchemy import select

    from bidding.models import Bid, BidPart
    from core.storage import file_store

    if shutil.which("age") is None:
        return "not checked (age is not installed)"
    p.session.rollback()
    mine = Bid.organization_id == who.user.organization_id
    part = p.session.scalar(select(BidPart).join(Bid).where(mine, BidPart.part == "technical"))
    if part is None:
        return "no (the platform holds no technical part)"
    age_d = subprocess.Popen(["age", "-d", "-i", str(identity), str(file_store().path_for(part.sha256))],
                             stdout=subprocess.PIPE)  # fmt: skip
    listing = subprocess.run(["tar", "-t"], stdin=age_d.stdout, capture_output=True, text=True, check=False)
    if age_d.wait() != 0 or listing.returncode != 0:
        return f"NO (age -d {age_d.returncode}, tar {listing.returncode}: {listing.stderr.strip()[:200]})"
    return f"yes, tar members {', '.join(listing.stdout.split())}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--dir", default=None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SUNBID_BENCH_DATABASE_URL"),
        help="PostgreSQL (emptied first); without: SQLite in the temporary instance, as make run has",
    )
    args = parser.parse_args(argv)

    from cryptography.hazmat.primitives import serialization
    from playwright.sync_api import expect, sync_playwright

    from bidtool import client as bidtool
    from bidtool.keys import encrypt_private_key_pem
    from tests.conftest import CHROMIUM
    from tests.e2e.test_pages import sign_in

    if CHROMIUM is None:
        print("skipped: Chromium is not installed")
        return 0
    if args.database_url and not fresh_postgres(args.database_url):
        return 0
    cpus = len(os.sched_getaffinity(0))
    database = "PostgreSQL" if args.database_url else "SQLite"
    load = os.getloadavg()[0]
    print(f"part {args.size_mib} MiB, {cpus} CPUs, {database}, load average {load:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sunbid-browser-", dir=args.dir) as tmp:
        d = Path(tmp)
        p = platform(d, args.database_url or f"sqlite:///{d / 'bench.db'}")
        who = bidder(p, "web", deposit=False)
        keys = d / "keys"
        keys.mkdir()
        (keys / "signing-key.pem").write_bytes(encrypt_private_key_pem(who.tenderer.key, PASSPHRASE.encode()))
        identity = who.tenderer.identity
        (keys / "identity.txt").write_text(f"# public key: {identity.recipient}\n{identity}\n")
        (keys / "recipient.txt").write_text(f"{identity.recipient}\n")
        (d / "cert.pem").write_bytes(who.tenderer.cert.public_bytes(serialization.Encoding.PEM))
        (d / "opening.pub").write_text(f"{p.tender.opening_key.recipient}\n")
        (d / "pw").write_text(f"{PASSPHRASE}\n")
        src = d / "src" / "technical.bin"
        random_file(src, args.size_mib * MIB)
        os.sync()

        out = d / "technical.age"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bidtool", "seal", "--to", str(d / "opening.pub"), "--key", str(keys),
             "--cert", str(d / "cert.pem"), "--tender", str(p.tender.id), "--lot", "1", "--part", "technical",
             "--passphrase-file", str(d / "pw"), str(d / "src"), str(out)],
            check=True,
        )  # fmt: skip
        bidtool_seal = time.perf_counter() - start
        sealed_size = out.stat().st_size
        print(f"bidtool seal: {bidtool_seal:.2f} s ({sealed_size / MIB:.1f} MiB sealed)", flush=True)

        # Deployed as the README says, with several workers (one per core here): a single one would
        # serve the page's three chunks in flight on one interpreter lock, curl's one stream not.
        srv = server(p, d / "gunicorn.log", workers=cpus)
        try:
            api = bidtool.Api(srv.url, token=who.token)
            bid = api.json("POST", f"/api/v1/tenders/{p.tender.id}/bids", {"lot": 1})
            signature = base64.b64encode((d / "technical.age.sig").read_bytes()).decode()
            os.sync()
            start = time.perf_counter()
            curl = subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(out),
                 "-H", f"Authorization: Bearer {who.token}", "-H", f"X-Bid-Signature: {signature}",
                 "-H", "Content-Type: application/octet-stream",
                 f"{srv.url}/api/v1/tenders/{p.tender.id}/bids/{bid['id']}/parts/technical"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            curl_seconds = time.perf_counter() - start
            assert curl.stdout == "201", curl.stdout
            api.request("DELETE", f"/api/v1/tenders/{p.tender.id}/bids/{bid['id']}")
            print(f"curl -T: {curl_seconds:.2f} s = {sealed_size / curl_seconds / 1e6:.0f} MB/s", flush=True)

            with sync_playwright() as pw:
                # A profile on disk, as a tenderer's browser has: Playwright's default contexts are
                # off the record, where the origin-private file system lives in the browser's memory
                # and writes to it run at a fifteenth of the disk's speed.
                context = pw.chromium.launch_persistent_context(
                    d / "chromium-profile",
                    executable_path=CHROMIUM,
                    headless=True,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        *os.environ.get("BENCH_CHROMIUM_ARGS", "").split(),
                    ],
                    base_url=srv.url,
                    locale="zh-CN",
                )
                browser = context.browser
                page = context.new_page()
                page.set_default_timeout(60_000)
                sign_in(page, p.people, who.user)
                page.goto(f"/tenders/{p.tender.id}")
                page.click("#start-bid button")
                bench = page.locator(".seal-bench")
                bench.locator(".signing-key").set_input_files(keys / "signing-key.pem")
                bench.locator(".identity").set_input_files(keys / "identity.txt")
                bench.locator(".passphrase").fill(PASSPHRASE)
                bench.locator(".unlock").click()
                expect(bench.locator(".keys-status")).to_have_class("keys-status ok")
                box = bench.locator(".seal-part[data-part='technical']")
                box.locator(".part-files").set_input_files(src)
                os.sync()
                resting = _renderer_rss_kib()
                sampler = Sampler()
                sampler.start()
                heap = HeapSampler(browser, page)
                box.locator(".seal-go").click()
                give_up = time.monotonic() + 3600
                while box.get_attribute("data-done") != "1":
                    if time.monotonic() > give_up or box.locator(".seal-status.error").count():
                        said = box.locator(".seal-status").inner_text()
                        log = (d / "gunicorn.log").read_text(errors="replace")[-3000:]
                        print(f"page memory (JS heap + workers) peak so far: {heap.peak / MIB:.0f} MiB;"
                              f" sealed in {box.get_attribute('data-seal-ms')} ms")  # fmt: skip
                        raise RuntimeError(f"the page did not finish: {said}\nthe server's log ends:\n{log}")
                    heap.sample()
                    page.wait_for_timeout(200)
                # Timed in the page (performance.now): no Playwright listener on the requests, whose
                # bodies it would otherwise copy out of the browser.
                browser_seal = int(box.get_attribute("data-seal-ms") or 0) / 1000
                browser_upload = int(box.get_attribute("data-upload-ms") or 0) / 1000
                profile = box.get_attribute("data-seal-profile")
                sampler.done.set()
                sampler.join()
                page_rates = page.evaluate(PRIMITIVES_JS)
                context.close()
        finally:
            srv.kill()
        opened = _open_received(p, who, keys / "identity.txt")

    native_rates = _native_primitives()
    page_floor = floor_seconds(args.size_mib * MIB, page_rates, cpus)
    seal_ratio = browser_seal / bidtool_seal
    upload_ratio = (sealed_size / browser_upload) / (sealed_size / curl_seconds)
    peak_mib = heap.peak / MIB
    print(f"browser seal (Web Worker, {args.size_mib} MiB): {browser_seal:.2f} s")
    print(f"  busy ms per step (sealing worker: read, hash, batch = waiting for a free buffer; cipher worker:"
          f" cipher, write, chunks = the upload chunks' SHA-256; digest worker: digest):"
          f" {profile}")  # fmt: skip
    print(f"ratio browser seal / bidtool seal = {seal_ratio:.2f} (goal <= {SEAL_GOAL})"
          f" -> {'OK' if seal_ratio <= SEAL_GOAL else 'TOO SLOW'}")  # fmt: skip
    print(f"  primitives, MB/s in the page / native (bidtool): SHA-256 {page_rates['sha256']:.0f} /"
          f" {native_rates['sha256']:.0f}, ChaCha20-Poly1305 {page_rates['chacha20poly1305']:.0f} /"
          f" {native_rates['chacha20poly1305']:.0f}")  # fmt: skip
    print(f"  floor: with the page's primitives on {cpus} cores no page seals {args.size_mib} MiB in under"
          f" {page_floor:.2f} s = {page_floor / bidtool_seal:.2f} x this run's bidtool seal; this page took"
          f" {browser_seal / page_floor:.2f} x the floor")  # fmt: skip
    # One SHA-256 stream cannot be split: whatever the cores, the ciphertext's hash alone takes this long.
    one_stream = args.size_mib * MIB / 1e6 / page_rates["sha256"]
    print(f"  on any number of cores: one SHA-256 pass (the ciphertext's, for the signed statement) takes"
          f" {one_stream:.2f} s = {one_stream / bidtool_seal:.2f} x this run's bidtool seal")  # fmt: skip
    chunked = chunked_floor_seconds(args.size_mib * MIB, page_rates, cpus)
    print(f"  WebCrypto SHA-256 (whole 16 MiB buffers, no stream) {page_rates['webcrypto_sha256']:.0f} MB/s:"
          f" a format hashing 16 MiB pieces would have a floor of {chunked:.2f} s ="
          f" {chunked / bidtool_seal:.2f} x bidtool")  # fmt: skip
    verdict = "OK" if peak_mib < MEMORY_GOAL_MIB else "OVER"
    print(f"browser page memory (JS heap + workers, {heap.workers_seen} workers) peak while sealing and"
          f" uploading: {peak_mib:.0f} MiB (page {heap.peak_at.get('page', 0) / MIB:.0f},"
          f" workers {heap.peak_at.get('worker', 0) / MIB:.0f}; goal < {MEMORY_GOAL_MIB})"
          f" -> {verdict}")  # fmt: skip
    print(f"  renderer process: peak RSS {sampler.peak / 1024:.0f} MiB ({resting / 1024:.0f} MiB before the"
          f" click), of which private (RssAnon) {sampler.peak_anon / 1024:.0f} MiB")  # fmt: skip
    print(f"browser resumable upload: {browser_upload:.2f} s = {sealed_size / browser_upload / 1e6:.0f} MB/s")
    print(f"ratio browser upload / curl -T = {upload_ratio:.2f} (goal >= {UPLOAD_GOAL})"
          f" -> {'OK' if upload_ratio >= UPLOAD_GOAL else 'TOO SLOW'}")  # fmt: skip
    print(f"the part received from the browser opens with age -d: {opened}")
    ok = seal_ratio <= SEAL_GOAL and peak_mib < MEMORY_GOAL_MIB and upload_ratio >= UPLOAD_GOAL
    ok = ok and opened.startswith("yes")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
