"""Words for the accounts package's values and audit actions (core.labels explains the registry)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.labels import register

register(
    "organizations.kind",
    {
        "tenderer": _l("tenderer"),
        "agency": _l("tendering agency"),
        "tenderee": _l("tenderee"),
        "authority": _l("supervising authority"),
        "notary": _l("notary office"),
        "platform": _l("platform operator"),
    },
)
register(
    "certificates.profile",
    {
        "tenderer_signing": _l("signing (tenderer)"),
        "tenderer_encryption": _l("encryption (tenderer)"),
        "expert": _l("signing (expert)"),
        "staff": _l("signing (staff)"),
        "service": _l("platform service"),
    },
)
register("outbox_messages.status", {"pending": _l("waiting"), "sent": _l("sent"), "failed": _l("failed")})
register(
    "audit.action",
    {
        "accounts.basic_account_set": _l("set the basic bank account"),
        "accounts.certificate_checked": _l("signed in with a certificate"),
        "accounts.custodian_key_set": _l("registered a custodian key"),
        "accounts.verification_requested": _l("asked the centre to verify the company"),
        "accounts.organization_renamed": _l("renamed an organisation"),
        "accounts.organization_activated": _l("reactivated an organisation"),
        "accounts.organization_deactivated": _l("deactivated an organisation"),
        "accounts.user_updated": _l("changed a person's details"),
        "accounts.user_disabled": _l("disabled an account"),
        "accounts.user_enabled": _l("enabled an account"),
        "accounts.user_unlocked": _l("lifted the sign-in locks on an account"),
        "accounts.password_set": _l("set a password for a person"),
        "accounts.recovery_codes_issued": _l("made new recovery codes"),
        "accounts.recovery_code_used": _l("signed in with a recovery code"),
        "accounts.verification_decided": _l("decided on a company's verification"),
        "accounts.verification_withdrawn": _l("withdrew a company's verification"),
        "accounts.organization_created": _l("registered an organisation"),
        "accounts.password_changed": _l("changed the password"),
        "accounts.role_changed": _l("changed a role"),
        "accounts.sign_in_failed": _l("was refused: wrong user name or password"),
        "accounts.sign_in_locked": _l("was refused: the account is locked for now"),
        "accounts.totp_failed": _l("gave a wrong second-factor code"),
        "accounts.signed_in": _l("signed in"),
        "accounts.signed_out": _l("signed out"),
        "accounts.token_issued": _l("created an API token"),
        "accounts.token_revoked": _l("revoked an API token"),
        "accounts.totp_enrolled": _l("set up the second factor"),
        "accounts.totp_reset": _l("reset a second factor"),
        "accounts.user_created": _l("created a user"),
        "ca.certificate_issued": _l("issued a certificate"),
        "ca.certificate_revoked": _l("revoked a certificate"),
        "ca.created": _l("created the platform CA"),
        "sandbox.clock_set": _l("moved the sandbox clock"),
    },
)
register(
    "company_verifications.status",
    {"pending": _l("with the centre"), "approved": _l("verified"), "rejected": _l("refused")},
)
register(
    "field",
    {
        "legal_representative": _l("Legal representative"),
        "display_name": _l("Name"),
        "phone": _l("Mobile phone"),
        "kind": _l("Kind of organisation"),
        "credit_code": _l("Unified social credit code"),
        "licence": _l("Business licence"),
        "supervisor": _l("Supervising custodian"),
        "notary": _l("Third custodian"),
        "agency": _l("Agency custodian"),
        "user": _l("Person"),
        "reason": _l("Reason"),
    },
)
