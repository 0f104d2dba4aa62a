"""What the bid benchmarks (ingest, rush) share: a migrated database, a tender open for bids, tenderers
with certificates, deposits and API tokens made through the services (fast), sealed parts, and gunicorn
in a subprocess (tests/servers.py) whose sandbox clock is set to the tender's bidding period."""

from __future__ import annotations

import base64
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
PRICE_SHEET = {
    "currency": "CNY",
    "total_fen": 1_000_000_00,
    "items": [{"name": "总价", "amount_fen": 1_000_000_00}],
}


def reset_postgres(url: str) -> None:
    """Empty the benchmark's own PostgreSQL database (never the tests')."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def postgres_reachable(url: str) -> str | None:
    """None if ``url`` answers, else why not."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: skip
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


def fresh_postgres(url: str) -> bool:
    """For a benchmark's ``--database-url``: empty its PostgreSQL database and say True, or say why it
    cannot be used and False (the benchmark is then skipped)."""
    why = postgres_reachable(url)
    if why is not None:
        print(f"skipped: no PostgreSQL at the database URL ({why})")
        return False
    reset_postgres(url)
    return True


@dataclass
class Platform:
    app: object
    session: object
    client: object
    people: object
    tender: object


def platform(folder: Path, database_url: str) -> Platform:
    """A migrated database with a published tender; the (frozen) clock an hour into its bidding period."""
    from accounts import pki
    from accounts import services as accounts
    from bidding.models import Tender
    from core import clock
    from core.app import create_app
    from core.roles import Role
    from crypto import age
    from tests.bidding.test_tenders import draft, publish
    from tests.conftest import FROZEN_AT, IsolatedClient, base_config, migrate
    from tests.factories import People

    config = base_config(folder / "instance", database_url)
    config["RATELIMIT_ENABLED"] = False
    migrate(config)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    ctx = app.app_context()
    ctx.push()
    from core.db import db

    session = db.session
    client = app.test_client()
    clock.freeze(FROZEN_AT)
    people = People(app, session)
    cast = {
        "agent": people.user(Role.AGENCY, "agent"),
        "supervisor": people.user(Role.SUPERVISOR, "watcher"),
        "notary": people.user(Role.NOTARY, "notary"),
        "tenderee": people.org("tenderee", "市人民医院"),
    }
    for name in ("agent", "supervisor", "notary"):
        accounts.set_custodian_key(session, cast[name], str(age.generate_identity().recipient))
    pki.ensure_ca(session)
    session.commit()
    body = draft(client, people, cast)
    response = publish(client, people, cast, body["id"])
    if response.status_code != 200:
        raise RuntimeError(f"publishing the tender failed: {response.get_json()}")
    session.rollback()
    tender = session.get(Tender, uuid.UUID(body["id"]))
    clock.freeze(tender.documents_from + timedelta(hours=1))
    return Platform(app, session, client, people, tender)


@dataclass
class Bidder:
    """A tenderer with its signing certificate, own age identity, deposit and API token."""

    name: str
    user: object
    tenderer: object  # tests.bidding.test_bids.Tenderer: certificate, key, identity
    token: str


def bidder(p: Platform, name: str, *, deposit: bool = True) -> Bidder:
    from accounts import services as accounts
    from tests.bidding.test_bids import Tenderer
    from tests.bidding.test_ledger import pay

    tenderer = Tenderer(p.people, p.session, name)
    if deposit:
        pay(p.session, tenderer.user, p.tender)
    token, _ = accounts.issue_token(p.session, tenderer.user, name="bench")
    p.session.commit()
    return Bidder(name, tenderer.user, tenderer, token)


def seal(p: Platform, who: Bidder, src: Path, out: Path, part: str) -> str:
    """Seal the folder ``src`` as ``part`` of ``who``'s bid into ``out`` (as ``bidtool seal`` does);
    returns the outer signature (OUT.sig) in base64, for the X-Bid-Signature header."""
    from crypto import age, bidpack

    bidpack.seal(
        src,
        out,
        recipients=[age.Recipient.parse(p.tender.opening_key.recipient), who.tenderer.identity.recipient],
        certificate=who.tenderer.cert,
        private_key=who.tenderer.key,
        tender=str(p.tender.id),
        lot=1,
        part=part,
        price_sheet=PRICE_SHEET if part == "commercial" else None,
        machine_fingerprint=os.urandom(32).hex(),
        tool_version="bench",
        overwrite=True,
    )
    return base64.b64encode(Path(f"{out}.sig").read_bytes()).decode()


def random_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 16 * MIB))
            f.write(block)
            left -= len(block)


def server(p: Platform, log: Path, *options: str, workers: int = 1):
    """gunicorn on the platform's database and store, its clock at the platform's (frozen) time."""
    from core import clock
    from tests.servers import Gunicorn, server_clock

    server_clock(p.session, clock.now())
    return Gunicorn(p.app.config, log, *options, workers=workers).start()
