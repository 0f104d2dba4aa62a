"""Words for the experts package's values and audit actions (see core.labels)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.labels import register

register("experts.status", {"active": _l("active"), "suspended": _l("suspended"), "retired": _l("retired")})
register("expert_records.kind", {"training": _l("training"), "assessment": _l("assessment")})
register(
    "draws.status",
    {"committed": _l("waiting for contributions"), "drawn": _l("drawn"), "disclosed": _l("disclosed")},
)
register(
    "expert_calls.status",
    {
        "pending": _l("waiting for an answer"),
        "accepted": _l("accepted"),
        "declined": _l("declined"),
        "expired": _l("expired"),
    },
)
register(
    "audit.action",
    {
        "experts.call_answered": _l("answered a call to evaluate"),
        "experts.call_expired": _l("let a call expire"),
        "experts.calls_started": _l("started calling the drawn experts"),
        "experts.committee_formed": _l("formed the committee"),
        "experts.draw_committed": _l("requested an expert draw"),
        "experts.draw_contributed": _l("contributed randomness to a draw"),
        "experts.draw_disclosed": _l("disclosed a draw"),
        "experts.draw_list_exhausted": _l("ran out of drawn experts"),
        "experts.draw_names_refused": _l("was refused the names of a draw"),
        "experts.draw_names_viewed": _l("viewed the names of a draw"),
        "experts.draw_proof_viewed": _l("viewed a draw's proof before it was disclosed"),
        "experts.draw_refused": _l("had a draw refused"),
        "experts.draw_run": _l("ran an expert draw"),
        "experts.employment_added": _l("added an expert's employment"),
        "experts.expert_created": _l("added an expert to the pool"),
        "experts.expert_updated": _l("updated an expert's profile"),
        "experts.imported": _l("imported experts"),
        "experts.leave_added": _l("recorded an expert's leave"),
        "experts.leave_removed": _l("removed an expert's leave"),
        "experts.record_added": _l("added an expert's training or assessment"),
        "experts.reviewed": _l("reviewed an expert (一标一评)"),
        "experts.specialty_added": _l("added a specialty"),
        "experts.suspended": _l("suspended an expert"),
    },
)
register(
    "field",
    {
        "name": _l("Name"),
        "id_number": _l("ID number"),
        "email": _l("E-mail"),
        "username": _l("User name"),
        "status": _l("Status"),
        "specialties": _l("Specialties"),
        "years_of_practice": _l("Years of practice"),
        "employer_credit_code": _l("Employer's credit code"),
        "employed_since": _l("Employed since"),
    },
)
