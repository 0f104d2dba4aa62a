"""What each reader sees of a conduct record: the public part for everyone, the people and the
subject's internal id for supervisors and admins only (one place decides it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from credit.models import ConductRecord
from credit.services import CATEGORY, standing


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _authority(user) -> str | None:
    """The body that acted, as the public reads it (the supervising authority, not the person)."""
    if user is None:
        return None
    return user.organization.name if user.organization else user.display_name


def record_json(record: ConductRecord, now: datetime, *, manager: bool = False) -> dict:
    body: dict[str, Any] = {
        "id": str(record.id),
        "subject": {
            "kind": record.subject_kind,
            "name": record.subject_name,
            "identifier": record.subject_identifier,
        },
        "category": record.category,
        "category_label": str(CATEGORY[record.category].label),
        "legal_basis": CATEGORY[record.category].basis,
        "facts": record.facts,
        "penalty": record.penalty,
        "tender_code": record.tender_code,
        "debarment": (
            {"first_day": _iso(record.debarred_from), "last_day": _iso(record.debarred_to)}
            if record.debarred_from
            else None
        ),
        "status": record.status,
        "standing": standing(record, now),
        "evidence": (
            {"sha256": record.evidence_sha256, "size": record.evidence_size, "name": record.evidence_name}
            if record.evidence_sha256
            else None
        ),
        "published_at": _iso(record.published_at),
        "published_by": _authority(record.published_by),
        "revoked_at": _iso(record.revoked_at),
        "revoked_by": _authority(record.revoked_by),
        "revocation_reason": record.revocation_reason,
    }
    if manager:
        body["subject"]["id"] = str(record.subject_id)
        body["created_at"] = _iso(record.created_at)
        body["recorded_by"] = record.recorded_by.username
        body["published_by_user"] = record.published_by.username if record.published_by else None
        body["revoked_by_user"] = record.revoked_by.username if record.revoked_by else None
    return body
