"""R-E4 and R-B4 by crawling, as people would look: before the result, the agency, the tenderee and the
bidders find no committee member's name on any page they reach or any tender API they may call; before
the bid deadline, the supervisor finds no bidder on the tender's pages, its API or its audit trail."""

from __future__ import annotations

import json
import re
from collections import deque
from datetime import timedelta
from urllib.parse import urlsplit

from core import clock
from core.roles import Role
from tests.bidding.test_opening import submit
from tests.bidding.test_tenders import auth
from tests.factories import PASSWORD

SKIP = ("/sign-out", "/lang/", "/static/", "/api/", "/healthz")
HREF = re.compile(r'href="([^"]+)"')


def signed_in(app, people, user):
    client = app.test_client()
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    if user.username in people.secrets:
        client.post("/sign-in/code", data={"code": people.code(user)})
        clock.advance(timedelta(seconds=31))
    return client


def crawl(client, starts, limit=80) -> dict[str, str]:
    """Every page reachable by links from ``starts`` (same site, GET), with its text."""
    seen: dict[str, str] = {}
    queue = deque(starts)
    while queue and len(seen) < limit:
        url = queue.popleft()
        path = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
        if path in seen or any(path.startswith(s) for s in SKIP) or urlsplit(url).netloc:
            continue
        response = client.get(path)
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            seen[path] = ""
            continue
        html = response.get_data(as_text=True)
        seen[path] = html
        queue.extend(h.replace("&amp;", "&") for h in HREF.findall(html) if h.startswith("/"))
    return seen


def tender_api(app, client, headers, tender) -> dict[str, str]:
    """Every GET of the tender's API this caller may make, with what it answered."""
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/tenders/<uuid:tender_id>") and "GET" in (rule.methods or ()):
            if re.search(r"<(?!uuid:tender_id)", rule.rule):
                continue
            path = rule.rule.replace("<uuid:tender_id>", str(tender.id))
            response = client.get(path, headers=headers)
            out[path] = response.get_data(as_text=True)
    return out


def test_r_e4_before_the_result_nobody_outside_the_room_finds_a_member(
    app, client, people, session, cast, sitting, committee
):
    tender, bids, heads, codes = sitting
    experts = [m for m in committee if m.role == Role.EXPERT]
    names = {e.display_name for e in experts} | {e.username for e in experts}
    # Members leave traces: downloads of the documents and a saved score sheet.
    docs = client.get(f"/api/v1/tenders/{tender.id}/documents").get_json()["items"]
    for head in heads[:2]:
        assert (
            client.get(
                f"/api/v1/tenders/{tender.id}/documents/{docs[0]['id']}/file", headers=head
            ).status_code
            == 200
        )
    saved = client.put(
        f"/api/v1/tenders/{tender.id}/evaluation/scores",
        json={"scores": {codes[0]: {"T1": "20"}}},
        headers=heads[0],
    )
    assert saved.status_code == 200
    tenderee_staff = people.user(Role.TENDEREE, "tenderee-office", org=cast["tenderee"])
    bidder = bids[0][0].user
    for who in (cast["agent"], tenderee_staff, bidder):
        pages = crawl(signed_in(app, people, who), ["/dashboard", f"/tenders/{tender.id}"])
        assert len(pages) > 3
        for path, html in pages.items():
            assert not any(name in html for name in names), (who.username, path)
        api = tender_api(app, client, auth(people, client, who), tender)
        clock.advance(timedelta(seconds=31))
        for path, body in api.items():
            assert not any(name in body for name in names), (who.username, path)


def test_r_b4_before_the_deadline_the_supervisor_finds_no_bidder(
    app, client, people, session, cast, tender, tmp_path
):
    bidders = [submit(client, people, session, tender, tmp_path, f"hidden{n}") for n in range(3)]
    # Whatever names a bidder: its company, credit code and id, the clerk's name and user name.
    names = set()
    for bidder, _bid, _s in bidders:
        org = bidder.user.organization
        names |= {org.name, org.credit_code, str(org.id), bidder.user.display_name, str(bidder.user.id)}
    supervisor = signed_in(app, people, cast["supervisor"])
    starts = [
        "/dashboard",
        f"/tenders/{tender.id}",
        f"/audit/?tender={tender.code}",
        f"/tenders/{tender.id}/ledger",
    ]
    pages = crawl(supervisor, starts)
    assert f"/tenders/{tender.id}" in pages
    for path, html in pages.items():
        if path.startswith("/audit/") and "tender=" not in path:
            continue  # the whole log lists companies signing in: nothing there ties them to a tender
        assert not any(name in html for name in names), path
    headers = auth(people, client, cast["supervisor"])
    api = tender_api(app, client, headers, tender)
    for path, body in api.items():
        assert not any(name in body for name in names), path
    entries = client.get(
        "/api/v1/audit/entries",
        query_string={"per_page": 100},
        headers=headers,
    ).get_json()["items"]
    assert not any(
        str(tender.id) in json.dumps(e) and any(n in json.dumps(e, ensure_ascii=False) for n in names)
        for e in entries
    )
