"""Values the type checker showed may be missing are refused in words where code relied on them being
there (issue 13, item 4): a row a foreign key names, a draft tender's timeline, a user's organisation.
Each refusal is a domain error with a stable code (no AttributeError on None, no 500), and the page
sentence names the field."""

import uuid

import pytest
from flask_babel import force_locale

from bidding.models import Tender
from core.db import get_row
from core.errors import Conflict, Forbidden, NotFound
from core.present import error_text
from core.roles import Role


def test_a_row_that_is_not_there_is_not_found(app, session, people):
    user = people.user(Role.AGENCY, "present-row")
    from accounts.models import User

    assert get_row(session, User, user.id).username == "present-row"
    with pytest.raises(NotFound) as missing:
        get_row(session, User, uuid.uuid4())
    assert missing.value.code == "not_found" and missing.value.status == 404


def test_a_draft_without_a_deadline_is_refused_naming_the_field(app, session, people):
    agency = people.org("agency")
    tender = Tender(
        title="草稿",
        category="x",
        agency_id=agency.id,
        tenderee_id=agency.id,
        created_by_id=uuid.uuid4(),
        estimated_price_fen=100,
    )
    with pytest.raises(Conflict) as refused:
        tender.time_of("bid_deadline")
    assert refused.value.code == "timeline_incomplete" and refused.value.details == {"field": "bid_deadline"}
    with app.test_request_context("/"), force_locale("zh_CN"):
        assert error_text(refused.value).startswith("投标截止时间")  # the field's label, not its name
    with pytest.raises(Conflict):
        _ = tender.key  # no opening key before publication


def test_an_expert_acts_for_no_organisation(app, session, people):
    expert = people.user(Role.EXPERT, "no-org-expert")
    with pytest.raises(Forbidden) as refused:
        _ = expert.org
    assert refused.value.code == "organization_required"
    assert people.user(Role.TENDERER, "with-org").org.kind == "tenderer"
