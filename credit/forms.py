"""Conduct record forms (supervisors)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core.forms import options
from credit.services import CATEGORY, MAX_FACTS, MAX_PENALTY, SUBJECT_LABELS


class ConductRecordForm(FlaskForm):
    subject_kind = SelectField(
        _l("Subject"), choices=options(SUBJECT_LABELS.items()), validators=[DataRequired()]
    )
    subject = StringField(
        _l("Unified social credit code or id"),
        description=_l("Organisations: their unified social credit code; experts: the expert's id."),
        validators=[DataRequired(), Length(max=64)],
    )
    category = SelectField(
        _l("Category"),
        choices=options((key, c.label) for key, c in CATEGORY.items()),
        validators=[DataRequired()],
    )
    facts = TextAreaField(_l("Facts found"), validators=[DataRequired(), Length(max=MAX_FACTS)])
    penalty = TextAreaField(_l("Penalty"), validators=[DataRequired(), Length(max=MAX_PENALTY)])
    tender_code = StringField(_l("Tender code (if any)"), validators=[Optional(), Length(max=64)])
    debarred_from = DateField(_l("Debarred from (first day)"), validators=[Optional()])
    debarred_to = DateField(_l("Debarred until (last day, inclusive)"), validators=[Optional()])
    evidence = FileField(_l("Evidence file"))

    def to_data(self) -> dict:
        return {
            "subject_kind": self.subject_kind.data,
            "subject": self.subject.data,
            "category": self.category.data,
            "facts": self.facts.data,
            "penalty": self.penalty.data,
            "tender_code": self.tender_code.data,
            "debarred_from": self.debarred_from.data,
            "debarred_to": self.debarred_to.data,
        }


class PublishForm(FlaskForm):
    pass


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the revocation"), validators=[DataRequired(), Length(max=MAX_PENALTY)]
    )
