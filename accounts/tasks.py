"""Periodic account jobs."""

from __future__ import annotations

from celery import shared_task

from accounts import pki
from core.db import db


@shared_task(name="accounts.refresh_crl")
def refresh_crl() -> int:
    """Hourly: the CRL is republished at half its lifetime, so verifiers never see an expired one."""
    number = pki.refresh_crl(db.session)
    db.session.commit()
    return number
