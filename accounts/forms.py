"""Account forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from accounts.passwords import check_policy
from accounts.services import validate_credit_code, validate_username
from core.errors import DomainError
from core.forms import options
from core.roles import ROLE_LABELS


class SignInForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("6-digit code"),
        validators=[DataRequired(), Length(min=6, max=16)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )


class PasswordChangeForm(FlaskForm):
    old = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new", message=_l("The passwords differ."))],
    )


def _service_check(check):
    """A field validator from a service's own check, so a form shows every problem at once."""

    def validate(form, field):
        if field.data:
            try:
                check(form, field.data)
            except DomainError as exc:
                raise ValidationError(str(exc.message)) from exc

    return validate


class RegisterForm(FlaskForm):
    org_name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    credit_code = StringField(
        _l("Unified social credit code"),
        validators=[DataRequired(), Length(max=18), _service_check(lambda f, v: validate_credit_code(v))],
    )
    username = StringField(
        _l("User name"),
        validators=[DataRequired(), Length(max=64), _service_check(lambda f, v: validate_username(v))],
    )
    display_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=32)])
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(max=256),
            _service_check(lambda f, v: check_policy(v, username=f.username.data or "")),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)], default="bidtool")


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(_l("Role"), choices=options((str(r), label) for r, label in ROLE_LABELS.items()))
    organization = SelectField(_l("Organisation"), choices=[], validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=256)])


class FirstPasswordForm(FlaskForm):
    new = PasswordField(_l("Your new password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new", message=_l("The passwords differ."))],
    )


class EmptyForm(FlaskForm):
    """For buttons that POST: the CSRF token is the only field."""


class CertificateSignInForm(FlaskForm):
    login_code = TextAreaField(_l("Login code from bidtool"), validators=[DataRequired(), Length(max=20000)])


class CsrForm(FlaskForm):
    csr_pem = TextAreaField(
        _l("Certificate request (PEM)"),
        validators=[DataRequired(), Length(max=20000)],
    )


class RecipientForm(FlaskForm):
    recipient = StringField(
        _l("Encryption recipient (age1...)"),
        validators=[DataRequired(), Length(max=200)],
    )


class VerificationForm(FlaskForm):
    """A tenderer asks the centre to verify its company (营业执照 and legal representative)."""

    legal_representative = StringField(
        _l("Legal representative (as on the licence)"), validators=[DataRequired(), Length(min=2, max=50)]
    )
    licence = FileField(
        _l("Business licence (scan or photo: PDF, JPEG or PNG, at most 20 MB)"),
        validators=[FileRequired()],
        render_kw={"accept": "application/pdf,image/jpeg,image/png"},
    )


class DecisionForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (required to refuse; the company is told)"), validators=[Optional(), Length(max=2000)]
    )
    approve = SubmitField(_l("Verify the company"))
    reject = SubmitField(_l("Refuse"))


class OrganizationForm(FlaskForm):
    name = StringField(_l("Registered name"), validators=[DataRequired(), Length(min=2, max=200)])
    credit_code = StringField(
        _l("Unified social credit code"), validators=[DataRequired(), Length(min=18, max=18)]
    )
    kind = SelectField(_l("Kind of organisation"), choices=[])


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=32)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (kept in the log)"), validators=[DataRequired(), Length(min=2, max=500)]
    )


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
