"""The expert pool: profiles, the specialty taxonomy, employment, leave, records, CSV import."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

import audit
from accounts import credit_code
from accounts.models import Organization, User
from core.db import get_row
from core.errors import Forbidden, Invalid, NotFound
from core.keys import ColumnCipher
from core.roles import Role
from experts.models import (
    EXPERT_STATUSES,
    RECORD_KINDS,
    Employment,
    Expert,
    ExpertRecord,
    ExpertSpecialty,
    Leave,
    Specialty,
)

ID_PURPOSE = "expert_id_number"
_CODE = re.compile(r"^[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){0,3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cipher() -> ColumnCipher:
    return ColumnCipher(current_app.config["DATA_KEY"])


def id_number_problem(value: str) -> str | None:
    """居民身份证号码 (GB 11643): 17 digits and an ISO 7064 MOD 11-2 check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return "format"
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return None if "10X98765432"[total % 11] == value[17].upper() else "check_character"


def id_number_digest(value: str) -> str:
    """A keyed digest: finds a duplicate without decrypting, and cannot be brute-forced without the key."""
    key = hashlib.sha256(b"sunbid expert id digest\x00" + current_app.config["DATA_KEY"].encode()).digest()
    return hmac.new(key, value.upper().encode(), "sha256").hexdigest()


def id_number(expert: Expert) -> str:
    return cipher().open(ID_PURPOSE, expert.id_number_sealed).decode()


def masked_id_number(expert: Expert) -> str:
    value = id_number(expert)
    return value[:3] + "*" * 11 + value[-4:]


# -- taxonomy ------------------------------------------------------------------------------------------


def add_specialty(
    session: Session, actor: User | None, code: str, name: str, ip: str | None = None
) -> Specialty:
    code, name = code.strip(), name.strip()
    if not _CODE.match(code) or not name:
        raise Invalid(
            _l("A specialty needs a dotted code (e.g. 01.02) and a name."), code="invalid_specialty"
        )
    if session.get(Specialty, code) is not None:
        raise Invalid(_l("This specialty code exists already."), code="specialty_exists")
    parent = code.rpartition(".")[0] or None
    if parent and session.get(Specialty, parent) is None:
        raise Invalid(
            _l("Add the parent specialty %(code)s first.", code=parent),
            code="specialty_parent_missing",
            details={"parent": parent},
        )
    row = Specialty(code=code, name=name, parent_code=parent)
    session.add(row)
    audit.record(session, actor, "experts.specialty_added", ("specialties", code), {"name": name}, ip)
    session.flush()
    return row


def specialties(session: Session) -> list[Specialty]:
    return list(session.scalars(select(Specialty).order_by(Specialty.code)))


# -- profiles ------------------------------------------------------------------------------------------


@dataclass
class Profile:
    name: str
    id_number: str
    phone: str = ""
    email: str = ""
    title: str = ""
    years_of_practice: int = 0
    region: str = ""
    specialties: list[str] = field(default_factory=list)
    username: str = ""
    status: str = "active"


def profile_problems(session: Session, profile: Profile, expert: Expert | None = None) -> list[dict]:
    """Everything wrong with ``profile`` as (field, code) pairs: import rows and forms share this."""
    problems = []
    if not profile.name.strip():
        problems.append({"field": "name", "code": "required"})
    reason = id_number_problem(profile.id_number.strip())
    if reason:
        problems.append({"field": "id_number", "code": reason})
    else:
        other = session.scalar(
            select(Expert.id).where(Expert.id_number_digest == id_number_digest(profile.id_number.strip()))
        )
        if other is not None and (expert is None or other != expert.id):
            problems.append({"field": "id_number", "code": "duplicate"})
    if profile.email and not _EMAIL.match(profile.email):
        problems.append({"field": "email", "code": "format"})
    if profile.years_of_practice < 0 or profile.years_of_practice > 80:
        problems.append({"field": "years_of_practice", "code": "range"})
    if profile.status not in EXPERT_STATUSES:
        problems.append({"field": "status", "code": "unknown"})
    if not profile.specialties:
        problems.append({"field": "specialties", "code": "required"})
    known = set(session.scalars(select(Specialty.code).where(Specialty.code.in_(profile.specialties))))
    for code in profile.specialties:
        if code not in known:
            problems.append({"field": "specialties", "code": "unknown", "value": code})
    if profile.username:
        user = _expert_user(session, profile.username)
        if user is None:
            problems.append({"field": "username", "code": "no_expert_account"})
        else:
            other = session.scalar(select(Expert.id).where(Expert.user_id == user.id))
            if other is not None and (expert is None or other != expert.id):
                problems.append({"field": "username", "code": "linked_elsewhere"})
    return problems


def _expert_user(session: Session, username: str) -> User | None:
    return session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower(), User.role == Role.EXPERT)
    )


def _apply(session: Session, expert: Expert, profile: Profile) -> None:
    expert.name = profile.name.strip()
    number = profile.id_number.strip().upper()
    expert.id_number_sealed = cipher().seal(ID_PURPOSE, number.encode())
    expert.id_number_digest = id_number_digest(number)
    expert.phone, expert.email = profile.phone.strip(), profile.email.strip()
    expert.title, expert.region = profile.title.strip(), profile.region.strip()
    expert.years_of_practice, expert.status = profile.years_of_practice, profile.status
    user = _expert_user(session, profile.username) if profile.username else None
    if profile.username and user is None:  # profile_problems says so first; never link to nobody
        raise Invalid(
            _l("No expert account has this user name."), code="unknown_user", details={"field": "username"}
        )
    expert.user_id = user.id if user else None
    wanted = set(profile.specialties)
    expert.specialties = [s for s in expert.specialties if s.specialty_code in wanted]
    have = {s.specialty_code for s in expert.specialties}
    expert.specialties.extend(ExpertSpecialty(specialty_code=c) for c in sorted(wanted - have))


def _refuse(problems: list[dict]) -> None:
    if problems:
        raise Invalid(
            _l("The expert profile has problems."), code="invalid_expert", details={"problems": problems}
        )


def create_expert(session: Session, actor: User | None, profile: Profile, ip: str | None = None) -> Expert:
    _refuse(profile_problems(session, profile))
    expert = Expert()
    _apply(session, expert, profile)
    session.add(expert)
    session.flush()
    audit.record(session, actor, "experts.expert_created", expert, _audit_fields(expert), ip)
    return expert


def update_expert(
    session: Session, actor: User, expert: Expert, profile: Profile, ip: str | None = None
) -> Expert:
    _refuse(profile_problems(session, profile, expert))
    _apply(session, expert, profile)
    session.flush()
    audit.record(session, actor, "experts.expert_updated", expert, _audit_fields(expert), ip)
    return expert


def _audit_fields(expert: Expert) -> dict:
    # No ID number, phone or e-mail in the log: the log is kept for 15 years and read by supervisors.
    return {
        "status": expert.status,
        "region": expert.region,
        "specialties": sorted(s.specialty_code for s in expert.specialties),
        "linked_user": str(expert.user_id) if expert.user_id else None,
    }


def get_expert(session: Session, expert_id: uuid.UUID) -> Expert:
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise NotFound(_l("No such expert."), code="expert_not_found")
    return expert


def expert_for_user(session: Session, user: User) -> Expert:
    expert = session.scalar(select(Expert).where(Expert.user_id == user.id))
    if expert is None:
        raise NotFound(_l("Your account is not linked to an expert profile yet."), code="expert_not_found")
    return expert


def search(q: str | None, status: str | None, specialty: str | None):
    query = select(Expert).order_by(Expert.name, Expert.id)
    if q:
        like = f"%{q.strip()}%"
        query = query.where(or_(Expert.name.ilike(like), Expert.region.ilike(like), Expert.title.ilike(like)))
    if status in EXPERT_STATUSES:
        query = query.where(Expert.status == status)
    if specialty:
        query = query.where(
            Expert.id.in_(
                select(ExpertSpecialty.expert_id).where(
                    or_(
                        ExpertSpecialty.specialty_code == specialty,
                        ExpertSpecialty.specialty_code.like(specialty + ".%"),
                    )
                )
            )
        )
    return query


# -- employment, leave, records ------------------------------------------------------------------------


def add_employment(
    session: Session,
    actor: User | None,
    expert: Expert,
    *,
    employer_name: str,
    employer_credit_code: str | None,
    start_date: date,
    end_date: date | None,
    ip: str | None = None,
) -> Employment:
    """An employer is identified by its unified social credit code; a registered organisation is linked."""
    code = (employer_credit_code or "").strip().upper()
    if not code:
        raise Invalid(_l("Name the employer and give its credit code."), code="employer_required")
    if credit_code.problem(code):
        raise Invalid(_l("Not a valid unified social credit code."), code="invalid_credit_code")
    if end_date is not None and end_date < start_date:
        raise Invalid(_l("The employment ends before it starts."), code="invalid_period")
    org = session.scalar(select(Organization).where(Organization.credit_code == code))
    row = Employment(
        expert_id=expert.id,
        employer_name=employer_name.strip() or (org.name if org else ""),
        employer_credit_code=code,
        organization_id=org.id if org else None,
        start_date=start_date,
        end_date=end_date,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "experts.employment_added",
        expert,
        {
            "credit_code": code,
            "start": start_date.isoformat(),
            "end": end_date.isoformat() if end_date else None,
        },
        ip,
    )
    return row


def employment_json(row: Employment) -> dict:
    return {
        "id": str(row.id),
        "employer_name": row.employer_name,
        "employer_credit_code": row.employer_credit_code,
        "organization": str(row.organization_id) if row.organization_id else None,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat() if row.end_date else None,
    }


def may_manage_leave(actor: User, expert: Expert) -> bool:
    return actor.role == Role.ADMIN or (actor.role == Role.EXPERT and expert.user_id == actor.id)


def add_leave(
    session: Session,
    actor: User,
    expert: Expert,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
    ip: str | None = None,
) -> Leave:
    if not may_manage_leave(actor, expert):
        raise Forbidden(_l("Only the expert or an administrator may record leave."), code="leave_forbidden")
    if ends_at <= starts_at:
        raise Invalid(_l("The leave must end after it starts."), code="invalid_period")
    row = Leave(expert_id=expert.id, starts_at=starts_at, ends_at=ends_at, reason=reason.strip()[:200])
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "experts.leave_added",
        expert,
        {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
        ip,
    )
    return row


def remove_leave(session: Session, actor: User, leave: Leave, ip: str | None = None) -> None:
    expert = get_row(session, Expert, leave.expert_id)
    if not may_manage_leave(actor, expert):
        raise Forbidden(_l("Only the expert or an administrator may record leave."), code="leave_forbidden")
    audit.record(session, actor, "experts.leave_removed", expert, {"leave": str(leave.id)}, ip)
    session.delete(leave)
    session.flush()


def add_record(
    session: Session,
    actor: User,
    expert: Expert,
    *,
    kind: str,
    title: str,
    held_on: date,
    result: str = "",
    ip: str | None = None,
) -> ExpertRecord:
    if kind not in RECORD_KINDS or not title.strip():
        raise Invalid(_l("A record needs a kind and a title."), code="invalid_record")
    row = ExpertRecord(expert_id=expert.id, kind=kind, title=title.strip(), held_on=held_on, result=result)
    session.add(row)
    session.flush()
    audit.record(session, actor, "experts.record_added", expert, {"kind": kind, "title": title.strip()}, ip)
    return row


# -- CSV import ----------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "name",
    "id_number",
    "phone",
    "email",
    "title",
    "years_of_practice",
    "region",
    "specialties",
    "employer_name",
    "employer_credit_code",
    "employed_since",
    "username",
)
MAX_IMPORT_BYTES = 5 * 1024 * 1024


@dataclass
class ImportRow:
    line: int
    profile: Profile
    employer_name: str
    employer_credit_code: str
    employed_since: date | None


def _parse_row(line: int, raw: dict[str, str]) -> tuple[ImportRow, list[dict[str, Any]]]:
    problems: list[dict[str, Any]] = []
    get = lambda name: (raw.get(name) or "").strip()  # noqa: E731
    try:
        years = int(get("years_of_practice") or 0)
    except ValueError:
        years = 0
        problems.append({"field": "years_of_practice", "code": "not_a_number"})
    since = None
    if get("employed_since"):
        try:
            since = date.fromisoformat(get("employed_since"))
        except ValueError:
            problems.append({"field": "employed_since", "code": "not_a_date"})
    code = get("employer_credit_code").upper()
    if code and credit_code.problem(code):
        problems.append({"field": "employer_credit_code", "code": credit_code.problem(code)})
    if (code or get("employer_name")) and not (code and since):
        problems.append({"field": "employer_credit_code", "code": "employer_needs_code_and_date"})
    profile = Profile(
        name=get("name"),
        id_number=get("id_number"),
        phone=get("phone"),
        email=get("email"),
        title=get("title"),
        years_of_practice=years,
        region=get("region"),
        specialties=[c.strip() for c in re.split(r"[;；]", get("specialties")) if c.strip()],
        username=get("username"),
    )
    return ImportRow(line, profile, get("employer_name"), code, since), problems


def import_csv(session: Session, actor: User, data: bytes, ip: str | None = None) -> list[Expert]:
    """Import new experts from a CSV roster (UTF-8, optional BOM, header row with CSV_COLUMNS).

    All or nothing: every row is checked and every problem reported with its line number; if any row
    is bad nothing is imported. A roster comes from the pool's managing authority as one document,
    and a half-imported roster would leave the pool silently different from it (the fixed file is
    simply imported again).
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid(_l("The file is too large (at most 5 MB)."), code="import_too_large")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(_l("Save the file as UTF-8 CSV."), code="import_not_utf8") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("name", "id_number", "specialties") if c not in (reader.fieldnames or ())]
    if missing:
        raise Invalid(
            _l("The header row lacks required columns."), code="import_header", details={"missing": missing}
        )
    rows: list[ImportRow] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        row, problems = _parse_row(line, raw)
        problems += profile_problems(session, row.profile)
        digest = (
            id_number_digest(row.profile.id_number) if not id_number_problem(row.profile.id_number) else None
        )
        if digest and digest in seen:
            problems.append({"field": "id_number", "code": "duplicate_in_file", "line": seen[digest]})
        elif digest:
            seen[digest] = line
        errors.extend({"row": line, **p} for p in problems)
        rows.append(row)
    if not rows:
        raise Invalid(_l("The file has no rows."), code="import_empty")
    if errors:
        raise Invalid(
            _l("%(n)s problems found; nothing was imported.", n=len(errors)),
            code="import_rejected",
            details={"rows": errors},
        )
    created = []
    for row in rows:
        expert = Expert()
        _apply(session, expert, row.profile)
        session.add(expert)
        session.flush()
        if row.employer_credit_code:
            org = session.scalar(
                select(Organization).where(Organization.credit_code == row.employer_credit_code)
            )
            session.add(
                Employment(
                    expert_id=expert.id,
                    employer_name=row.employer_name or (org.name if org else ""),
                    employer_credit_code=row.employer_credit_code,
                    organization_id=org.id if org else None,
                    start_date=row.employed_since,
                )
            )
        created.append(expert)
    session.flush()
    audit.record(session, actor, "experts.imported", None, {"rows": len(created)}, ip)
    return created
