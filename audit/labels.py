"""Words for the audit package's own actions (see core.labels)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.labels import register

register(
    "audit.action",
    {
        "audit.verified": _l("verified the whole log"),
        "audit.archive_exported": _l("exported the tender's archive"),
    },
)
register("audit.who", {"platform": _l("the platform"), "gone": _l("a removed user")})
register(
    "audit.domain",
    {
        "accounts.": _l("Accounts and sign-in"),
        "ca.": _l("Certificates"),
        "bidding.": _l("Tenders, bids and deposits"),
        "experts.": _l("Experts and draws"),
        "evaluation.": _l("Evaluation and award"),
        "credit.": _l("Conduct records"),
        "audit.": _l("The audit log"),
        "sandbox.": _l("Sandbox"),
    },
)
