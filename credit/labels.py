"""Words for the credit package's values and audit actions (see core.labels)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.labels import register
from credit.services import CATEGORY, SUBJECT_LABELS

register("conduct_records.subject_kind", SUBJECT_LABELS)
register("conduct_records.category", {key: category.label for key, category in CATEGORY.items()})
register(
    "conduct_records.status",
    {"draft": _l("draft, not public"), "published": _l("published"), "revoked": _l("revoked")},
)
register(
    "standing",
    {
        "draft": _l("draft, not public"),
        "published": _l("published"),
        "revoked": _l("revoked"),
        "debarred": _l("debarred"),
        "debarment_pending": _l("debarment not yet started"),
        "debarment_ended": _l("debarment ended"),
    },
)
register(
    "audit.action",
    {
        "credit.conduct_published": _l("published a conduct record"),
        "credit.conduct_recorded": _l("recorded bad conduct"),
        "credit.conduct_revoked": _l("revoked a conduct record"),
    },
)
