"""Signs of collusion (围标串标, R-B8; 条例40), computed from the opened bids for the supervisor.

They are signals, not verdicts: each names the rule, what matched and which bids, and the committee and
supervisor judge. Only bids from different organisations are compared.

- same_payer_account: deposits paid from one bank account by different companies
- same_machine: bid parts prepared on the same machine (equal 机器码 hashes in the signed manifests)
- identical_document: the same file (equal SHA-256) inside bids of different companies
- price_pattern: three or more prices in an arithmetic or geometric progression
- same_project_manager: one project manager (项目经理) named in the price sheets of different companies;
  names are compared after Unicode NFKC folding (full-width letters) and without spaces
- same_agent: one person acting for different companies. A bid's agent (委托代理人) is whoever acted for
  the tenderer in it on the platform: the user who submitted the bid and the holders of the signing
  certificates its parts were signed with (each certificate is issued to one user). Accounts belong to
  one company each, so the same person is recognised by a mobile number or an e-mail address shared
  between the accounts (digits only, without +86; addresses in lower case)
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Certificate, Organization, User
from bidding.models import Bid, Deposit, PartOpening, Tender


def _groups(pairs: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Values shared by two or more organisations: [(value, [organisations])]."""
    by_value: dict[str, set[str]] = defaultdict(set)
    for value, org in pairs:
        if value:
            by_value[value].add(org)
    return [(value, sorted(orgs)) for value, orgs in sorted(by_value.items()) if len(orgs) > 1]


def _runs(priced: list[tuple[int, str]]) -> list[tuple[str, list[tuple[int, str]]]]:
    """Maximal runs of three or more sorted prices with one step (arithmetic) or one ratio (geometric).

    Companion bids are priced around the one meant to win at regular intervals, so they sit next to
    each other once sorted: one pass over neighbours finds them, whatever the number of bids.
    """
    ordered = sorted(priced)
    found = []
    for kind, step in (
        ("arithmetic", lambda a, b: b - a),
        ("geometric", lambda a, b: Fraction(b, a) if a else None),
    ):
        start = 0
        while start + 2 < len(ordered):
            first = step(ordered[start][0], ordered[start + 1][0])
            end = start + 1
            while (
                end + 1 < len(ordered)
                and first not in (None, 0, 1)
                and step(ordered[end][0], ordered[end + 1][0]) == first
            ):
                end += 1
            if end - start >= 2:
                found.append((kind, ordered[start : end + 1]))
                start = end
            else:
                start += 1
    return found


def person_name(name: str) -> str:
    """A name as people write it in different ways: full-width folded, without spaces, case ignored."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


def contacts(user: User) -> list[str]:
    """What identifies the person behind an account across companies: its mobile number and e-mail."""
    found = []
    digits = re.sub(r"\D", "", user.phone or "")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) >= 7:
        found.append(f"phone:{digits}")
    if user.email and user.email.strip():
        found.append(f"email:{user.email.strip().lower()}")
    return found


def agents(session: Session, bid: Bid) -> list[User]:
    """The people who acted for the tenderer in ``bid``: its submitter and its parts' signers."""
    ids = {bid.created_by_id}
    serials = {part.signer_serial for part in bid.parts}
    if serials:
        ids |= set(
            session.scalars(
                select(Certificate.user_id).where(
                    Certificate.serial.in_(serials), Certificate.user_id.is_not(None)
                )
            )
        )
    return list(session.scalars(select(User).where(User.id.in_(ids))))


def signals(session: Session, tender: Tender) -> list[dict]:
    bids = list(session.scalars(select(Bid).where(Bid.tender_id == tender.id, Bid.status == "submitted")))
    names = {
        o.id: o.name
        for o in session.scalars(
            select(Organization).where(Organization.id.in_({b.organization_id for b in bids}))
        )
    }
    found: list[dict] = []

    payers = [
        (d.payer_account or "", names.get(d.organization_id, str(d.organization_id)))
        for d in session.scalars(
            select(Deposit).where(Deposit.tender_id == tender.id, Deposit.kind == "money")
        )
    ]
    for account, orgs in _groups(payers):
        found.append(
            {"rule": "R-B8", "signal": "same_payer_account", "value": account, "organizations": orgs}
        )

    machines: list[tuple[str, str]] = []
    files: list[tuple[str, str]] = []
    managers: list[tuple[str, str]] = []
    people: list[tuple[str, str]] = []
    written: dict[str, set[str]] = defaultdict(set)  # each project manager's name as written
    prices_by_lot: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for bid in bids:
        org = names.get(bid.organization_id, str(bid.organization_id))
        people.extend((contact, org) for person in agents(session, bid) for contact in contacts(person))
        for part in bid.parts:
            outcome = session.get(PartOpening, part.id)
            if outcome is None or outcome.status != "ok" or not outcome.manifest:
                continue
            machines.append((outcome.manifest.get("machine_fingerprint_sha256", ""), org))
            files.extend((entry["sha256"], org) for entry in outcome.manifest.get("files", []))
            if outcome.price_fen is not None:
                prices_by_lot[bid.lot_number].append((outcome.price_fen, org))
            manager = (outcome.price_sheet or {}).get("project_manager")
            if manager:
                written[person_name(manager)].add(manager.strip())
                managers.append((person_name(manager), org))
    for value, orgs in _groups(machines):
        found.append({"rule": "R-B8", "signal": "same_machine", "value": value, "organizations": orgs})
    for value, orgs in _groups(files):
        found.append({"rule": "R-B8", "signal": "identical_document", "value": value, "organizations": orgs})
    for value, orgs in _groups(managers):
        found.append(
            {
                "rule": "R-B8",
                "signal": "same_project_manager",
                "value": " / ".join(sorted(written[value])),
                "organizations": orgs,
            }
        )
    for value, orgs in _groups(people):
        found.append({"rule": "R-B8", "signal": "same_agent", "value": value, "organizations": orgs})
    for lot, priced in sorted(prices_by_lot.items()):
        for kind, run in _runs(priced):
            found.append(
                {
                    "rule": "R-B8",
                    "signal": "price_pattern",
                    "lot": lot,
                    "pattern": kind,
                    "prices_fen": [p for p, _o in run],
                    "organizations": sorted({o for _p, o in run}),
                }
            )
    return found
