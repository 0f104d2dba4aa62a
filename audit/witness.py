"""An independent witness for the audit log (c2sp.org/tlog-witness, c2sp.org/tlog-cosignature).

The supervising authority runs it on its own host, with its own key, apart from the platform::

    sunbid-witness init   STATE --name witness.example.gov.cn/sunbid      # makes the key (0600)
    sunbid-witness add-log STATE --origin sunbid.example/audit --key "<the log's verifier key>"
    sunbid-witness key    STATE                                            # the key to publish
    sunbid-witness serve  STATE --listen 127.0.0.1:7380

(``python -m audit.witness`` is the same command.) The platform POSTs each new checkpoint to
``<prefix>/add-checkpoint`` with a consistency proof from the last size this witness cosigned; the
witness checks the log's signature and the proof, then answers with its cosignature. It keeps, per log,
only the latest checkpoint it cosigned, so a log that was rolled back (smaller than what it saw) or
forked (a different history) gets no cosignature: 409 or 422, and the refused request is kept as
evidence (``sunbid-witness evidence STATE``).

It needs neither Flask nor the platform's database: the standard library, ``crypto.note``,
``crypto.merkle`` and ``crypto.cosignature``. State is one SQLite file beside the key.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import os
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crypto import cosignature, merkle, note

KEY_FILE = "witness.key"
DB_FILE = "witness.db"
MAX_BODY = 64 * 1024
MAX_PROOF_LINES = 63
SIZE_TYPE = "text/x.tlog.size"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, verifier_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, origin TEXT NOT NULL, status INTEGER NOT NULL,
    reason TEXT NOT NULL, body BLOB NOT NULL);
"""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


def _text(status: int, message: str) -> Answer:
    return Answer(status, (message + "\n").encode())


class Witness:
    """The witness's key and state. ``add_checkpoint`` is the whole protocol; the HTTP server wraps it."""

    def __init__(self, state: str | os.PathLike[str]) -> None:
        self.state = Path(state)
        key = (self.state / KEY_FILE).read_text(encoding="utf-8")
        self.cosigner = cosignature.Cosigner.from_key_string(key)
        self._lock = threading.Lock()  # one check-and-update at a time in this process (and SQLite's lock)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.state / DB_FILE, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a cosignature goes out only once its state is durable
            yield db
        finally:
            db.close()

    # -- administration ------------------------------------------------------------------------------

    @classmethod
    def init(cls, state: str | os.PathLike[str], name: str) -> Witness:
        folder = Path(state)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_path = folder / KEY_FILE
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite a key
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cosignature.Cosigner.generate(name).key_string() + "\n")
        return cls(folder)

    def add_log(self, origin: str, verifier_key: str) -> None:
        verifier = note.Verifier.from_key_string(verifier_key)  # refuse a key that does not parse
        if not origin or "\n" in origin:
            raise ValueError("a log origin is one non-empty line")
        with self._db() as db:
            db.execute(
                "INSERT INTO logs (origin, verifier_key) VALUES (?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET verifier_key = excluded.verifier_key",
                (origin, verifier.key_string()),
            )

    def verifier_key(self) -> str:
        return self.cosigner.verifier().key_string()

    def latest(self, origin: str) -> tuple[int, str] | None:
        with self._db() as db:
            row = db.execute("SELECT size, note FROM latest WHERE origin = ?", (origin,)).fetchone()
        return (row[0], row[1]) if row else None

    def evidence(self) -> list[tuple[int, str, int, str]]:
        with self._db() as db:
            return db.execute("SELECT at, origin, status, reason FROM evidence ORDER BY id").fetchall()

    # -- the protocol -------------------------------------------------------------------------------

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            old, proof, signed = _parse_request(body)
            parsed = note.parse_note(signed)
            checkpoint = note.parse_checkpoint(parsed.text)
        except ValueError as e:
            return _text(400, f"malformed request: {e}")
        with self._lock, self._db() as db:
            row = db.execute(
                "SELECT verifier_key FROM logs WHERE origin = ?", (checkpoint.origin,)
            ).fetchone()
            if row is None:
                return _text(404, "unknown log origin")
            try:
                note.open_note(signed, [note.Verifier.from_key_string(row[0])])
            except note.NoteError:
                return _text(403, "no valid signature from the log's key")
            if old > checkpoint.size:
                return _text(400, "the old size is larger than the checkpoint's")
            db.execute("BEGIN IMMEDIATE")
            try:
                answer = self._check_and_cosign(db, checkpoint, parsed.text, old, proof, body)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return answer

    def _check_and_cosign(
        self,
        db: sqlite3.Connection,
        checkpoint: note.Checkpoint,
        text: str,
        old: int,
        proof: list[bytes],
        body: bytes,
    ) -> Answer:
        stored = db.execute("SELECT size, root FROM latest WHERE origin = ?", (checkpoint.origin,)).fetchone()
        size, root = (stored[0], bytes(stored[1])) if stored else (0, merkle.EMPTY_ROOT)
        if old != size:
            # The log's idea of where we are is stale; this is also how a rolled-back log is told no.
            if checkpoint.size < size:
                self._keep(db, checkpoint.origin, 409, f"rollback: {checkpoint.size} < {size}", body)
            return Answer(409, f"{size}\n".encode(), SIZE_TYPE)
        if old == checkpoint.size:
            if checkpoint.root != root or proof:
                self._keep(db, checkpoint.origin, 409, f"fork at size {size}", body)
                return _text(409, "a different root for the size already cosigned")
        elif old == 0:
            if proof:
                return _text(400, "a proof from size 0 must be empty")
        elif not merkle.verify_consistency(old, checkpoint.size, root, checkpoint.root, proof):
            self._keep(db, checkpoint.origin, 422, f"inconsistent: {old} -> {checkpoint.size}", body)
            return _text(422, "the consistency proof does not verify")
        now = int(time.time())
        line = self.cosigner.signature_line(text, now)
        db.execute(
            "INSERT INTO latest (origin, size, root, note, cosigned_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "note = excluded.note, cosigned_at = excluded.cosigned_at",
            (checkpoint.origin, checkpoint.size, checkpoint.root, text, now),
        )
        return Answer(200, line.encode())

    @staticmethod
    def _keep(db: sqlite3.Connection, origin: str, status: int, reason: str, body: bytes) -> None:
        """A signed request the witness refused may prove the log misbehaved: keep it."""
        db.execute(
            "INSERT INTO evidence (at, origin, status, reason, body) VALUES (?, ?, ?, ?, ?)",
            (int(time.time()), origin, status, reason, body),
        )


def _parse_request(body: bytes) -> tuple[int, list[bytes], bytes]:
    head, sep, signed = body.partition(b"\n\n")
    if not sep:
        raise ValueError("no empty line before the checkpoint")
    lines = head.decode("ascii").split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _DECIMAL.fullmatch(first[4:]):
        raise ValueError("the first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError("too many proof lines")
    proof = []
    for line in lines[1:]:
        try:
            raw = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a proof line is not base64") from None
        if len(raw) != merkle.HASH_SIZE:
            raise ValueError("a proof line is not a 32-byte hash")
        proof.append(raw)
    return int(first[4:]), proof, signed


def request_body(old: int, proof: Sequence[bytes], signed: bytes) -> bytes:
    """What a log sends to add-checkpoint."""
    lines = [f"old {old}\n"] + [base64.b64encode(h).decode() + "\n" for h in proof]
    return "".join(lines).encode() + b"\n" + signed


# -- HTTP -----------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    witness: Witness
    protocol_version = "HTTP/1.1"  # keep-alive, as the spec recommends
    server_version = "sunbid-witness"

    def do_POST(self) -> None:
        if self.path.rstrip("/").rsplit("/", 1)[-1] != "add-checkpoint":
            return self._send(_text(404, "not found"))
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._send(_text(411, "Content-Length required"))
        if not 0 < length <= MAX_BODY:
            return self._send(_text(413, "request too large"))
        self._send(self.witness.add_checkpoint(self.rfile.read(length)))

    def do_GET(self) -> None:
        if self.path in ("/", ""):
            return self._send(_text(200, self.witness.verifier_key()))
        self._send(_text(404, "not found"))

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:  # refusals are worth a line; cosignatures are not
            super().log_request(code, size)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"witness: {self.address_string()} {format % args}\n")


def server(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"witness": witness})
    return ThreadingHTTPServer((host, port), handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sunbid-witness", description="An audit-log witness (C2SP).")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create the witness key in STATE")
    init.add_argument("state")
    init.add_argument("--name", required=True, help="the witness's name, e.g. witness.example.gov.cn/sunbid")
    add = commands.add_parser("add-log", help="witness a log: its origin line and verifier key")
    add.add_argument("state")
    add.add_argument("--origin", required=True)
    add.add_argument("--key", required=True, help="the log's verifier key (flask audit key)")
    commands.add_parser("key", help="print the witness's verifier key").add_argument("state")
    commands.add_parser("evidence", help="list refused checkpoints kept as evidence").add_argument("state")
    serve = commands.add_parser("serve", help="answer add-checkpoint requests")
    serve.add_argument("state")
    serve.add_argument("--listen", default="127.0.0.1:7380", help="HOST:PORT (port 0: any free port)")
    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            print(Witness.init(args.state, args.name).verifier_key())
        elif args.command == "add-log":
            Witness(args.state).add_log(args.origin, args.key)
        elif args.command == "key":
            print(Witness(args.state).verifier_key())
        elif args.command == "evidence":
            for at, origin, status, reason in Witness(args.state).evidence():
                print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(at))} {status} {origin}: {reason}")
        else:
            host, _, port = args.listen.rpartition(":")
            httpd = server(Witness(args.state), host or "127.0.0.1", int(port))
            # The bound address on one line, so that whoever started us (CI, a service manager) can read it
            # (from the socket, as server_address is: typeshed lets that one's host be bytes).
            bound_host, bound_port = httpd.socket.getsockname()[:2]
            print(f"listening on {bound_host}:{bound_port}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                httpd.serve_forever()
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
