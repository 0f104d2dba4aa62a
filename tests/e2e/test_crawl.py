"""Every page reachable from the navigation, as every role and a visitor, in Chinese and English, on a
platform where the demo tender has run from notice to contract (demo/tender.py): no page shows a machine
value or untranslated text, no link is broken, axe-core finds nothing critical or serious, and no page is
wider than a 390 px phone (issue 13; ARCHITECTURE.md "Presentation")."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from accounts import totp
from core import clock, labels
from core.app import create_app
from core.db import db
from core.storage import file_store
from demo import accounts as cast
from tests.conftest import PG_URL, _truncate, base_config
from tests.e2e import crawl

pytestmark = pytest.mark.e2e


def _committee_member(session, tender) -> str:
    from accounts.models import User
    from evaluation import room

    seat = room.sitting_members(session, tender)[0]
    return session.scalar(select(User.username).where(User.id == seat.user_id))


def _login(username: str):
    def login(page) -> None:
        crawl.sign_in(
            page,
            page.context._options_base_url if False else BASE[0],
            username,
            cast.PASSWORD,
            lambda: totp.code_at(cast.demo_totp_secret(username)),
        )

    return login


BASE: list[str] = []


@pytest.fixture(scope="module")
def site(template_db, tmp_path_factory, browser):
    """The demo platform after a whole tender, served on a loopback port; the clock stopped where the
    demo left it (after the contract)."""
    folder = tmp_path_factory.mktemp("crawl")
    if PG_URL:
        _truncate(PG_URL)
        url = PG_URL
    else:
        shutil.copyfile(template_db, folder / "sunbid.db")
        url = f"sqlite:///{folder / 'sunbid.db'}"
    config = {**base_config(folder / "instance", url), "SANDBOX": True, "WTF_CSRF_ENABLED": True}
    app = create_app(config)
    from demo import tender as sample

    clock.freeze(None)
    with app.app_context():
        tender = sample.run(
            db.session, file_store(), Path(config["INSTANCE_PATH"]), app.config["DATA_KEY"], lambda _: None
        )
        db.session.commit()
        member = _committee_member(db.session, tender)
        clock.freeze(clock.now())
        db.session.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    BASE[:] = [base]
    people = {
        "visitor": None,
        "tenderer": "tenderer3",
        "agency": "agency1",
        "tenderee": "tenderee",
        "expert": member,
        "supervisor": "supervisor",
        "admin": "admin",
    }
    report = crawl.Report()
    vocabulary = labels.values()
    try:
        for who, username in people.items():
            crawl.timed(
                lambda who=who, username=username: crawl.crawl_as(
                    browser, base, vocabulary, report, who, _login(username) if username else None
                ),
                report,
            )
        yield report
    finally:
        server.shutdown()
        thread.join(timeout=10)
        clock.freeze(None)
        clock.set_offset(__import__("datetime").timedelta(0))
        app.extensions["sunbid.db"]["engine"].dispose()


def test_the_crawler_reaches_every_role_s_pages(site):
    print(f"\ncrawler: {len(site.pages)} pages, {site.links_checked} links checked in {site.seconds:.1f} s")
    for finding in site.findings:
        print(finding)
    assert not site.findings
