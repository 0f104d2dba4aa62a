"""A real ``gunicorn wsgi:app`` on a test's (or a benchmark's) database and store, for crash, race and
load tests: killed with SIGKILL as a crash would, its clock set through the sandbox clock row."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Gunicorn:
    """gunicorn with the project's gunicorn.conf.py (``options`` add to it), in its own process group so
    that a SIGKILL takes the arbiter and its workers down at once."""

    def __init__(self, config: dict, log: Path, *options: str, workers: int = 1) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SUNBID_")},
            "SUNBID_DATABASE_URL": config["DATABASE_URL"],
            "SUNBID_INSTANCE_PATH": config["INSTANCE_PATH"],  # the same keys: data, receipts, audit, CA
            "SUNBID_STORAGE_PATH": config["STORAGE_PATH"],
            "SUNBID_SECRET_KEY": config["SECRET_KEY"],
            "SUNBID_AUDIT_ORIGIN": config.get("AUDIT_ORIGIN", "sunbid.local/audit"),
            "SUNBID_WITNESS_URL": config.get("WITNESS_URL") or "",
            "SUNBID_WITNESS_KEY": config.get("WITNESS_KEY") or "",
            "SUNBID_SANDBOX": "1",  # the platform clock comes from the database (core/sandbox.py)
            "SUNBID_DEFAULT_LOCALE": "en",
            # The tests run the beat jobs themselves (as tests/conftest.py does): a beat writing every
            # second would race the test's own writes to the shared SQLite file.
            "SUNBID_EMBEDDED_BEAT": "0",
        }
        self.options = ("-w", str(workers), *options)
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 60) -> Gunicorn:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [BIN / "gunicorn", "-b", f"127.0.0.1:{self.port}", *self.options, "wsgi:app"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
            try:
                if self.request("GET", "/api/v1/receipt-key")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, arbiter and workers: nothing gets to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the arbiter)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    found.append(int(entry.name))
        return found

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, bytes]:
        conn = self.connection()
        try:
            if isinstance(body, dict):
                body = json.dumps(body).encode()
                headers = {**(headers or {}), "Content-Type": "application/json"}
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def flask(self, *args: str) -> str:
        """A ``flask --app wsgi`` command on the same database and store."""
        result = subprocess.run(
            [BIN / "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def server_clock(session, at: datetime) -> None:
    """Set the server's sandbox clock so that it reads ``at`` now and then runs in real time (the offset
    is stored as sandbox.set_now stores it; the caller's own clock is frozen, so it cannot compute it)."""
    from core import db, sandbox
    from core.models import PlatformSetting

    session.commit()  # end the caller's read snapshot (SQLite): others wrote since
    # Read and write in one immediate transaction: a deferred one fails at once (SQLITE_BUSY_SNAPSHOT,
    # "database is locked") when the server writes between this read and this write.
    with db.intent(True):
        real_now = datetime.fromtimestamp(time.time(), UTC)
        row = session.get(PlatformSetting, sandbox.KEY)
        if row is None:
            row = PlatformSetting(key=sandbox.KEY, value={})
            session.add(row)
        row.value = {"seconds": (at - real_now).total_seconds()}
        session.commit()


@contextmanager
def celery_worker(env: dict) -> Iterator[subprocess.Popen]:
    """A real ``celery -A core.worker worker`` (solo pool) with ``env``, stopped afterwards; its output is
    printed when the block fails, to show why the worker did not do its job."""
    command = ["celery", "-A", "core.worker", "worker", "--pool=solo", "--loglevel=WARNING"]
    proc = subprocess.Popen(
        [sys.executable, "-m", *command, "--without-heartbeat", "--without-gossip"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    failed = False
    try:
        yield proc
    except BaseException:
        failed = True
        raise
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
        if failed:
            print(output.decode(errors="replace"))
