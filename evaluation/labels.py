"""Words for the evaluation package's values, flags and audit actions (see core.labels)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.labels import register

register("complaints.kind", {"complaint": _l("complaint"), "challenge": _l("challenge (质疑)")})
register(
    "evaluation_rooms.status",
    {"seated": _l("committee seated"), "in_session": _l("in session"), "closed": _l("closed")},
)
register("scoring_schemes.subject", {"goods": _l("goods"), "services": _l("services"), "works": _l("works")})
register(
    "scoring_schemes.method",
    {"comprehensive": _l("comprehensive scoring"), "lowest_price": _l("lowest-price method")},
)
register("evaluation_reports.status", {"signing": _l("being signed"), "signed": _l("signed")})
register("room_members.kind", {"expert": _l("expert"), "tenderee_rep": _l("tenderee's representative")})
register(
    "report_signatures.decision",
    {"agree": _l("agrees"), "dissent": _l("dissents"), "refused": _l("refused to sign")},
)
register(
    "evaluation.flag",
    {
        "abnormal_score": _l("abnormally high or low score"),
        "missing_score": _l("score missing"),
        "objective_inconsistent": _l("objective scores disagree"),
        "score_out_of_range": _l("score out of its range"),
        "summation_error": _l("summation error"),
        "tie_unresolved": _l("tie not resolved"),
    },
)
register(
    "room.step",
    {
        "check_in": _l("check in with a fresh code"),
        "score": _l("fill in your score sheet"),
        "wait": _l("waiting for the other members"),
        "sign": _l("sign the report"),
        "signed": _l("signed; waiting for the others"),
        "closed": _l("report closed"),
    },
)
register(
    "identity.finding",
    {
        "credit_code_in_text": _l("the bidder's credit code appears in the text"),
        "name_in_text": _l("the bidder's name appears in the text"),
        "not_scanned": _l("could not be checked completely"),
        "metadata": _l("the file's properties name an author or company"),
    },
)
register(
    "audit.action",
    {
        "evaluation.award_decided": _l("decided the award"),
        "evaluation.candidates_published": _l("published the candidates"),
        "evaluation.chair_elected": _l("elected the chair"),
        "evaluation.chair_vote": _l("voted for the chair"),
        "evaluation.checked_in": _l("checked in to the evaluation room"),
        "evaluation.committee_seated": _l("seated the committee"),
        "evaluation.complaint_answered": _l("answered a complaint"),
        "evaluation.complaint_filed": _l("filed a complaint"),
        "evaluation.conflict_declared": _l("declared a conflict of interest"),
        "evaluation.contract_recorded": _l("recorded the contract"),
        "evaluation.report_closed": _l("closed the evaluation report"),
        "evaluation.report_drafted": _l("drafted the evaluation report"),
        "evaluation.report_signed": _l("signed the evaluation report"),
        "evaluation.replacement_seated": _l("seated a replacement on the committee"),
        "evaluation.scheme_defined": _l("defined the scoring scheme"),
        "evaluation.score_reviewed": _l("reviewed a score (复核)"),
        "evaluation.sheet_saved": _l("saved a score sheet"),
        "evaluation.sheet_submitted": _l("submitted a score sheet"),
    },
)
