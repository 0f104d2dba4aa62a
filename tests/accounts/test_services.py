"""Account rules: registration, passwords, lockout, second factor with replay guard, tokens (issue 2)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts import services
from accounts.models import Organization, User
from audit.models import AuditEntry
from core import clock
from core.errors import Conflict, Invalid, RateLimited, Unauthorized
from core.roles import Role
from tests.factories import PASSWORD


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_register_tenderer_creates_company_and_user_and_logs_both(session):
    org, user = services.register_tenderer(
        session,
        org_name="北京测试建设有限公司",
        credit_code="91350100m000100y43 ",
        username="zhang",
        display_name="张三",
        email="zhang@example.cn",
        password=PASSWORD,
        ip="10.0.0.8",
    )
    session.commit()
    assert org.credit_code == "91350100M000100Y43"
    assert user.role == Role.TENDERER and user.organization_id == org.id
    assert user.password_hash.startswith("$argon2id$")
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.index)).all()
    assert actions == ["accounts.organization_created", "accounts.user_created"]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("credit_code", "91350100M000100Y44", "invalid_credit_code"),
        ("password", "short1", "weak_password"),
        ("password", "onlyletterslong", "weak_password"),
        ("password", "1234567890", "weak_password"),
        ("username", "a b", "invalid_username"),
        ("email", "not-an-address", "invalid_email"),
    ],
)
def test_bad_registration_is_refused_and_writes_nothing(session, field, value, code):
    data = dict(
        org_name="测试公司",
        credit_code="91350100M000100Y43",
        username="lisi",
        display_name="李",
        email="li@example.cn",
        password=PASSWORD,
    )
    data[field] = value
    with pytest.raises(Invalid) as err:
        services.register_tenderer(session, **data)
    session.rollback()
    assert err.value.code == code
    assert count(session, Organization) == 0 and count(session, User) == 0 and count(session, AuditEntry) == 0


def test_duplicates_are_conflicts_but_an_unverified_claim_to_a_code_is_not(session, people):
    user = people.user(Role.TENDERER, "wang")
    with pytest.raises(Conflict) as err:
        people.user(Role.TENDERER, "WANG")
    assert err.value.code == "duplicate_username"
    session.rollback()
    # The centre cannot create a second verified organisation under a code...
    with pytest.raises(Conflict) as err:
        services.create_organization(
            session,
            None,
            name="另一家",
            credit_code=user.organization.credit_code,
            kind="tenderer",
            verified=True,
        )
    assert err.value.code == "duplicate_credit_code"
    session.rollback()
    # ...but anyone may register a claim to it, unverified, for the centre to decide (R-B4's bidders are
    # verified companies only: see tests/accounts/test_verification.py).
    claim = services.create_organization(
        session, None, name="冒名公司", credit_code=user.organization.credit_code, kind="tenderer"
    )
    assert claim.verified_at is None and user.organization.verified_at is not None


def test_role_must_match_organisation_kind(session, people):
    tenderer_org = people.org("tenderer")
    with pytest.raises(Invalid) as err:
        services.create_user(
            session,
            None,
            username="agent",
            display_name="a",
            email="a@x.cn",
            role=Role.AGENCY,
            password=PASSWORD,
            organization=tenderer_org,
        )
    assert err.value.code == "role_org_mismatch"


def test_wrong_password_is_refused_without_saying_which_part(session, people):
    people.user(Role.TENDERER, "chen")
    for name, password in [("chen", "Wrong-password-1"), ("nobody", PASSWORD)]:
        with pytest.raises(Unauthorized) as err:
            services.check_password(session, name, password, "1.2.3.4")
        assert err.value.code == "invalid_credentials"


def _fail(session, error_fn):
    """Run a refused attempt the way a view does: roll back, keep the audit line."""
    from core.uow import rollback_for

    try:
        error_fn()
    except Exception as err:  # the DomainError under test
        rollback_for(err)
        return err
    raise AssertionError("expected a refusal")


def test_throttle_by_name_and_address_answers_alike_for_known_and_unknown_names(app, session, people, wall):
    user = people.user(Role.AGENCY, "liu")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for name in ("liu", "nobody-here"):
        for _ in range(limit):
            err = _fail(
                session, lambda name=name: services.check_password(session, name, "Wrong-pass-99", "1.2.3.4")
            )
            assert err.code == "invalid_credentials"
    # Throttled from that address: the same answer whether the account exists or not, even with the
    # right password (nobody learns which user names exist).
    known = _fail(session, lambda: services.check_password(session, "liu", PASSWORD, "1.2.3.4"))
    unknown = _fail(session, lambda: services.check_password(session, "nobody-here", PASSWORD, "1.2.3.4"))
    assert isinstance(known, RateLimited) and isinstance(unknown, RateLimited)
    assert (
        (known.code, str(known.message))
        == (unknown.code, str(unknown.message))
        == (
            "sign_in_throttled",
            str(unknown.message),
        )
    )
    # A stranger's guesses do not lock the staff member out: from their own address they sign in.
    assert services.check_password(session, "liu", PASSWORD, "10.0.0.7").id == user.id
    failed = session.scalar(select(func.count()).where(AuditEntry.action == "accounts.sign_in_failed"))
    assert failed == 2 * limit  # every refusal is logged (R-R1)
    wall(timedelta(minutes=app.config["LOGIN_LOCKOUT_MINUTES"], seconds=1))
    assert services.check_password(session, "liu", PASSWORD, "1.2.3.4").id == user.id


def test_one_address_guessing_many_names_is_throttled_as_a_whole(app, session, people, wall):
    people.user(Role.TENDERER, "many-1")
    for n in range(app.config["LOGIN_ADDRESS_MAX_FAILURES"]):
        _fail(session, lambda n=n: services.check_password(session, f"name-{n}", "Wrong-pass-99", "5.6.7.8"))
    err = _fail(session, lambda: services.check_password(session, "many-1", PASSWORD, "5.6.7.8"))
    assert err.code == "sign_in_throttled"
    assert services.check_password(session, "many-1", PASSWORD, "5.6.7.9").username == "many-1"


def test_totp_code_is_refused_a_second_time(session, people):
    user = people.user(Role.AGENCY, "agent1")
    code = people.code(user)
    services.check_totp(session, user, code)
    session.commit()
    err = _fail(session, lambda: services.check_totp(session, user, code))
    assert err.code == "totp_replayed"
    err = _fail(
        session, lambda: services.check_totp(session, user, "000000" if code != "000000" else "111111")
    )
    assert err.code == "totp_invalid"
    clock.advance(timedelta(seconds=30))
    services.check_totp(session, user, people.code(user))  # the next step works


def test_totp_failures_count_towards_the_lockout(app, session, people, wall):
    user = people.user(Role.EXPERT, "expert-x")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _fail(session, lambda: services.check_totp(session, user, "12345x"))
    # Only someone with the password reaches the code step: wrong codes lock the account everywhere.
    err = _fail(session, lambda: services.check_totp(session, user, people.code(user)))
    assert err.code == "sign_in_throttled"


def test_tokens_are_stored_hashed_and_expire_and_revoke(app, session, people):
    user = people.user(Role.TENDERER, "zhao")
    token, row = services.issue_token(session, user, name="bidtool")
    session.commit()
    assert token.encode() not in row.token_hash and len(row.token_hash) == 32
    assert services.user_for_token(session, token)[0].id == user.id
    clock.advance(timedelta(days=app.config["API_TOKEN_DAYS"]))
    with pytest.raises(Unauthorized) as err:
        services.user_for_token(session, token)
    assert err.value.code == "token_expired"
    token2, row2 = services.issue_token(session, user)
    services.revoke_token(session, user, row2.id)
    with pytest.raises(Unauthorized) as err:
        services.user_for_token(session, token2)
    assert err.value.code == "token_revoked"


def test_password_change_checks_old_password_and_ends_other_sessions(session, people):
    user = people.user(Role.TENDERER, "sun")
    version = user.session_version
    err = _fail(session, lambda: services.change_password(session, user, "nope-nope-1", "New-password-77"))
    assert err.code == "invalid_credentials"
    with pytest.raises(Invalid) as weak:
        services.change_password(session, user, PASSWORD, PASSWORD)
    assert "same_as_old" in weak.value.details["reasons"]
    session.rollback()
    services.change_password(session, user, PASSWORD, "New-password-77")
    session.commit()
    assert user.session_version == version + 1
    assert services.check_password(session, "sun", "New-password-77").id == user.id


def test_role_changes_are_logged_and_end_sessions(session, people):
    admin = people.user(Role.ADMIN, "root-role")
    org = people.org("agency")
    staff = people.user(Role.AGENCY, "staffer", org=org)
    version = staff.session_version
    services.set_role(session, admin, staff, Role.AGENCY, ip="10.0.0.1")
    session.commit()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "accounts.role_changed")).one()
    assert entry.actor_id == admin.id and entry.target_id == str(staff.id)
    assert staff.session_version == version + 1
    with pytest.raises(Invalid):
        services.set_role(session, admin, staff, Role.TENDERER)
