"""The scoring-scheme page: anyone reads a published tender's scheme; the tender's agency edits it while
the tender is a draft (the same service as the API)."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from bidding import permissions
from bidding import services as bidding
from core.auth import roles_required
from core.db import db
from core.errors import DomainError, NotFound
from core.extensions import client_ip
from core.roles import Role
from core.uow import flash_error
from evaluation import services
from evaluation.forms import SchemeForm
from evaluation.models import ScoringScheme

bp = Blueprint("evaluation", __name__)


def _editable(tender) -> bool:
    return (
        current_user.is_authenticated
        and permissions.runs(db.session, current_user, tender)
        and tender.status == "draft"
    )


@bp.get("/tenders/<uuid:tender_id>/scoring-scheme")
def scheme_page(tender_id: uuid.UUID):
    actor = current_user if current_user.is_authenticated else None
    tender = bidding.visible(db.session, actor, tender_id)
    record = db.session.get(ScoringScheme, tender.id)
    form = None
    if _editable(tender):
        form = SchemeForm()
        if record is not None:
            form.fill(record.definition)
    elif record is None:
        raise NotFound(_("This tender has no scoring scheme yet."), code="scheme_not_found")
    return render_template("evaluation/scheme.html", tender=tender, record=record, form=form, error=None)


@bp.post("/agency/tenders/<uuid:tender_id>/scoring-scheme")
@roles_required(Role.AGENCY)
def save_scheme(tender_id: uuid.UUID):
    tender = bidding.manageable(db.session, current_user, tender_id)
    form = SchemeForm()
    if form.validate_on_submit():
        try:
            services.define_scheme(db.session, current_user, tender.id, form.to_data(), client_ip())
        except DomainError as err:
            flash_error(err)
            record = db.session.get(ScoringScheme, tender.id)
            page = render_template(
                "evaluation/scheme.html", tender=tender, record=record, form=form, error=err
            )
            return page, err.status
        db.session.commit()
        flash(_("Scoring scheme saved."), "success")
        return redirect(url_for("evaluation.scheme_page", tender_id=tender.id))
    record = db.session.get(ScoringScheme, tender.id)
    return render_template("evaluation/scheme.html", tender=tender, record=record, form=form, error=None), 422
