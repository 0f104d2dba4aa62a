"""Custody of the opening key (R-B4, R-B6): three custodians from three organisations, shares handed
over only at the deadline, and an attacker holding the whole platform plus one custodian opens nothing.

See docs/threat-model.md for who must collude with what to open a bid early, and what trace it leaves.
"""

import base64
import io
import re
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from audit.models import AuditEntry
from bidding.models import CustodianShare
from core import clock
from core.keys import ColumnCipher
from core.roles import Role
from crypto import age, shamir
from crypto import opening as opening_keys
from tests.bidding.test_opening import submit
from tests.bidding.test_tenders import auth, draft, publish

AGE_SECRET = re.compile(rb"AGE-SECRET-KEY-1[0-9A-Z]{58}")


def _custodian(session, people, role, name, org=None):
    user = people.user(role, name, org=org)
    identity = age.generate_identity()
    accounts.set_custodian_key(session, user, str(identity.recipient))
    session.commit()
    return user, identity


def test_publication_needs_three_custodians_from_three_organisations(client, people, cast, session):
    """R-B4: two parties never hold the whole key alone; the third custodian is independent."""
    tender = draft(client, people, cast)
    missing = publish(client, people, cast, tender["id"], notary=None)
    assert missing.status_code == 422  # no third custodian: refused, nothing published
    _custodian(session, people, Role.SUPERVISOR, "colleague", org=cast["supervisor"].organization)
    colluding = publish(client, people, cast, tender["id"], notary="colleague")
    assert colluding.status_code == 422
    assert colluding.get_json()["error"]["code"] == "custodians_not_independent"
    no_key = people.user(Role.NOTARY, "keyless-notary")
    refused = publish(client, people, cast, tender["id"], notary=no_key.username)
    assert refused.get_json()["error"]["code"] == "custodian_key_missing"
    _custodian(session, people, Role.SUPERVISOR, "other-authority")
    accepted = publish(client, people, cast, tender["id"], notary="other-authority")
    assert accepted.status_code == 200, accepted.get_json()
    key = client.get(f"/api/v1/tenders/{tender['id']}/opening-key").get_json()
    assert key["threshold"] == 2
    assert [c["role"] for c in key["custodians"]] == ["agency", "supervisor", "second_authority"]


def test_custodians_get_their_shares_only_at_the_deadline_and_every_ask_is_logged(
    client, people, cast, session, tender
):
    """R-B4: before the deadline a share is refused (and the refusal logged); at it, handed over, logged."""
    url = f"/api/v1/tenders/{tender.id}/opening/shares/mine"
    for name in ("agent", "supervisor", "notary"):
        early = client.get(url, headers=auth(people, client, cast[name]))
        assert early.status_code == 409, early.get_json()
        assert early.get_json()["error"]["code"] == "share_sealed_until_deadline"
        clock.advance(timedelta(seconds=31))
    session.rollback()  # a fresh snapshot: the refusals were committed by the requests
    refused = session.scalar(select(func.count()).where(AuditEntry.action == "bidding.share_refused"))
    assert refused == 3
    stranger = people.user(Role.NOTARY, "stranger-notary")
    assert client.get(url, headers=auth(people, client, stranger)).status_code == 404
    clock.freeze(tender.bid_deadline)
    answer = client.get(url, headers=auth(people, client, cast["notary"]))
    assert answer.status_code == 200
    share = opening_keys.open_share(
        opening_keys.SealedShare(
            "notary",
            answer.get_json()["x"],
            base64.b64decode(answer.get_json()["sealed"]),
            answer.get_json()["share_sha256"],
        ),
        cast["identities"]["notary"],
    )
    assert share.x == answer.get_json()["x"]
    session.rollback()
    assert session.scalar(select(func.count()).where(AuditEntry.action == "bidding.share_fetched")) == 1


def _age_secrets(folder: Path) -> set[str]:
    """Every age identity written anywhere in ``folder``: keys, database pages, logs, spool."""
    found = set()
    for path in folder.rglob("*"):
        if path.is_file():
            found.update(m.decode() for m in AGE_SECRET.findall(path.read_bytes()))
    return found


def test_attack_the_whole_platform_and_one_custodian_open_nothing_before_the_deadline(
    app, client, people, cast, session, tender, tmp_path
):
    """At deadline - 1 s an attacker holds a full copy of the instance (database, file store, every key
    the server has: data key, audit key, CA) and one custodian's identity. Every bid stays closed."""
    bids = [submit(client, people, session, tender, tmp_path, f"victim{n}") for n in range(3)]
    clock.freeze(tender.bid_deadline - timedelta(seconds=1))
    copy = tmp_path / "stolen-instance"
    shutil.copytree(app.instance_path, copy)
    store = Path(app.config["STORAGE_PATH"])
    if not store.is_relative_to(Path(app.instance_path)):
        shutil.copytree(store, copy / "storage-copy")
    server_keys = {"data": app.config["DATA_KEY"], "secret": app.config["SECRET_KEY"]}
    stolen_identity = cast["identities"]["agent"]  # the agency colludes

    # 1. The shares in the database copy (on PostgreSQL the attacker reads the same rows live).
    if (copy / "sunbid.db").exists():
        with sqlite3.connect(copy / "sunbid.db") as database:
            sealed = [bytes(r[0]) for r in database.execute("SELECT sealed FROM custodian_shares")]
    else:
        sealed = [s.sealed for s in session.scalars(select(CustodianShare))]
    assert len(sealed) == 3
    cipher = ColumnCipher(server_keys["data"])
    identities = [stolen_identity] + [age.Identity.parse(s) for s in _age_secrets(copy)]
    opened = []
    for blob in sealed:
        inner = cipher.open("custodian-share", blob)
        for identity in identities:
            try:
                out = io.BytesIO()
                age.decrypt(io.BytesIO(inner), out, [identity])
            except age.AgeError:
                continue
            opened.append(shamir.Share.decode(out.getvalue().decode()))
    assert len(opened) == 1  # only the colluding custodian's own share
    recipient = age.Recipient.parse(tender.opening_key.recipient)
    with pytest.raises(ValueError):
        opening_keys.reconstruct(opened, recipient)
    # 2. No identity anywhere on the server is the opening key.
    assert all(identity.recipient != recipient for identity in identities)
    # 3. Every stored part, tried with every identity the attacker has: none opens.
    parts = [p for p in copy.rglob("*") if p.is_file() and p.read_bytes()[:21] == b"age-encryption.org/v1"]
    assert len(parts) >= 9  # three bids of three parts
    for path in parts:
        with pytest.raises(age.AgeError):
            age.unwrap_file_key(path.read_bytes(), identities)
    # 4. Asking the platform for the other shares is refused, and the attempt is in the log.
    for name in ("agent", "supervisor"):
        early = client.get(
            f"/api/v1/tenders/{tender.id}/opening/shares/mine", headers=auth(people, client, cast[name])
        )
        assert early.status_code == 409
        clock.advance(timedelta(milliseconds=1))
    session.rollback()
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "bidding.share_refused")).all()
    assert len(logged) == 2 and all(e.actor_id in (cast["agent"].id, cast["supervisor"].id) for e in logged)
    assert bids  # the bids were received with receipts: nothing above depended on their owners
