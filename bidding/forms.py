"""Tender forms. Money is typed in yuan and kept in fen with Decimal: never floats."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from bidding.periods import TIMELINE
from core.clock import SHANGHAI
from core.forms import options
from core.money import AmountError, parse_yuan


class Yuan(StringField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.fen = None
        if self.data:
            try:
                self.fen = parse_yuan(self.data)
            except AmountError as exc:
                self.process_errors.append(str(exc.message))


class LotForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField(_l("Lot name"), validators=[Optional(), Length(max=200)])
    estimate = Yuan(_l("Estimated price (yuan)"), validators=[Optional()])
    deposit = Yuan(_l("Deposit (yuan)"), validators=[Optional()])


class TenderForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    track = SelectField(
        _l("Track"),
        choices=options([("works", _l("Works (工程)")), ("procurement", _l("Procurement (政府采购)"))]),
    )
    category = StringField(_l("Category"), validators=[DataRequired(), Length(max=64)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=64)])
    tenderee_id = SelectField(_l("Tenderee"), choices=[], validators=[DataRequired()])
    estimate = Yuan(_l("Estimated price (yuan)"), validators=[DataRequired()])
    deposit = Yuan(_l("Deposit (yuan)"), validators=[Optional()])
    state_controlled = BooleanField(_l("State-controlled project (the first candidate wins)"))
    description = TextAreaField(_l("Notice text"), validators=[Optional(), Length(max=20000)])
    documents_from = DateTimeLocalField(_l("Documents available from"), validators=[Optional()])
    documents_to = DateTimeLocalField(_l("Documents available until"), validators=[Optional()])
    clarification_deadline = DateTimeLocalField(_l("Questions until"), validators=[Optional()])
    objection_deadline = DateTimeLocalField(_l("Objections until"), validators=[Optional()])
    bid_deadline = DateTimeLocalField(_l("Bid deadline and opening"), validators=[Optional()])
    lots = FieldList(FormField(LotForm), min_entries=3, max_entries=10)

    def to_data(self) -> dict:
        lots = [
            {
                "name": lot.form.name.data,
                "estimated_price": lot.form.estimate.fen,
                "deposit": lot.form.deposit.fen or 0,
            }
            for lot in self.lots
            if lot.form.name.data and lot.form.estimate.fen
        ]
        timeline = {
            name: getattr(self, name).data.replace(tzinfo=SHANGHAI) if getattr(self, name).data else None
            for name in TIMELINE
        }
        return {
            "title": self.title.data,
            "track": self.track.data,
            "category": self.category.data,
            "region": self.region.data,
            "tenderee_id": self.tenderee_id.data,
            "estimated_price": self.estimate.fen,
            "deposit": self.deposit.fen or 0,
            "state_controlled": self.state_controlled.data,
            "description": self.description.data,
            "lots": lots or None,
            "timeline": timeline,
        }


class DeleteDraftForm(FlaskForm):
    """Only the CSRF token: the confirmation page is the question."""


class PublishForm(FlaskForm):
    supervisor = SelectField(_l("Supervising custodian"), choices=[], validators=[DataRequired()])
    notary = SelectField(
        _l("Third custodian (a notary, or a supervisor of another authority)"),
        choices=[],
        validators=[DataRequired()],
    )


class CustodianKeyForm(FlaskForm):
    recipient = StringField(
        _l("Your public key (age1...)"),
        validators=[DataRequired(), Length(max=100)],
    )


class DocumentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    file = FileField(_l("File (PDF, DOCX, ZIP...)"), validators=[FileRequired()])


class AmendmentForm(FlaskForm):
    kind = SelectField(
        _l("Kind"),
        choices=options(
            [("amendment", _l("Amendment (修改)")), ("clarification", _l("Clarification (澄清)"))]
        ),
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("What changes"), validators=[Optional(), Length(max=20000)])
    affects_bids = BooleanField(_l("Can affect bid preparation (R-T3: may move the deadline)"), default=True)
    file = FileField(_l("Revised file (optional)"), validators=[Optional()])


class QuestionForm(FlaskForm):
    text = TextAreaField(_l("Your question"), validators=[DataRequired(), Length(min=5, max=4000)])


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer"), validators=[DataRequired(), Length(min=5, max=4000)])
    affects_bids = BooleanField(_l("Can affect bid preparation (R-T3: may move the deadline)"))


class ObjectionForm(FlaskForm):
    text = TextAreaField(
        _l("Your objection and its grounds"), validators=[DataRequired(), Length(min=5, max=8000)]
    )


class ObjectionAnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer"), validators=[DataRequired(), Length(min=5, max=8000)])


class CloseOpeningForm(FlaskForm):
    """R-B6: the closing checklist in the hall (each bid not fully decrypted marked, with its reason)."""

    forfeit_revoked = BooleanField(
        _l("Keep the deposits of revoked bids (as the tender documents say)"), default=True
    )


class StatementForm(FlaskForm):
    file = FileField(
        _l("Statement file (CSV as the bank exports it, or camt.053 XML)"), validators=[FileRequired()]
    )


class DepositReferenceForm(FlaskForm):
    lot = IntegerField(_l("Lot"), validators=[DataRequired()])


class BasicAccountForm(FlaskForm):
    bank = StringField(_l("Bank and branch"), validators=[DataRequired(), Length(max=100)])
    account_no = StringField(_l("Account number"), validators=[DataRequired(), Length(max=40)])


class GuaranteeForm(FlaskForm):
    lot = IntegerField(_l("Lot"), validators=[DataRequired()])
    amount = Yuan(_l("Amount guaranteed (yuan)"), validators=[DataRequired()])
    insurer = StringField(_l("Insurer or bank"), validators=[DataRequired(), Length(max=200)])
    policy_number = StringField(_l("Guarantee (policy) number"), validators=[DataRequired(), Length(max=100)])
    verification_ref = StringField(
        _l("Insurer's verification reference (验真码)"), validators=[DataRequired(), Length(max=100)]
    )
    valid_until = DateTimeLocalField(_l("Valid until"), validators=[DataRequired()])
    file = FileField(_l("Guarantee file (PDF)"), validators=[FileRequired()])
