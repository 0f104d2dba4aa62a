"""Schemathesis against the live OpenAPI document (issue 13, item 1): every operation the document
publishes is called with bodies and queries generated from its own schema, valid ones and invalid
ones, signed in as a role that may call it, and every answer is checked:

- no answer is a server error (>= 500);
- every answer fits the document: a documented status, a documented content type, a body that fits
  the status's schema (success shapes and the error shape alike);
- invalid data is refused (4xx), never taken: the schema the document publishes is the one enforced.

Bounded: a fixed number of cases per operation and mode, derandomized, so the run is repeatable and
takes about a minute. The totals are printed (pytest -s) for the report.
"""

from __future__ import annotations

import contextvars
import time
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from core import clock
from core.roles import Role

CASES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 20}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzz_app(config):
    from core.app import create_app

    # The login and registration limits would answer 429 to a fuzzer long before it got anywhere.
    app = create_app(config | {"RATELIMIT_ENABLED": False})
    yield app
    app.extensions["sunbid.db"]["engine"].dispose()


def _scene(app) -> tuple[dict[Role, str], dict[str, str]]:
    """A user per role with a token, and a draft tender of the agency's, so that the tender's own
    operations get past the lookup and into the services."""
    from accounts import services as accounts
    from bidding import services as bidding
    from tests.factories import People

    with app.app_context():
        from core.db import db

        people = People(app, db.session)
        users = {role: people.user(role) for role in Role}
        tokens = {}
        for role, user in users.items():
            tokens[role], _row = accounts.issue_token(db.session, user, name="fuzz")
        tenderee = people.org("tenderee")
        tender = bidding.create_draft(
            db.session,
            users[Role.AGENCY],
            bidding.parse_tender(
                {
                    "title": "模糊测试项目",
                    "category": "施工",
                    "tenderee_id": str(tenderee.id),
                    "estimated_price": {"amount_fen": 100_000_00},
                }
            ),
        )
        db.session.commit()
        return tokens, {"tender_id": str(tender.id)}


def _role_for(operation) -> Role | None:
    definition = operation.definition.raw
    if "security" not in definition:
        return None
    roles = definition.get("x-roles") or [Role.TENDERER.value]
    return Role(roles[0])


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(fuzz_app, capsys):
    clock.freeze(clock.now() + timedelta(days=1))  # after the draft exists, nothing else moves
    tokens, ids = _scene(fuzz_app)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    totals = {"operations": len(operations), "cases": 0, "failures": 0}
    failures: list[str] = []
    started = time.monotonic()
    for operation in operations:
        role = _role_for(operation)
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        path_ids = {name: value for name, value in ids.items() if f"{{{name}}}" in operation.path}
        for mode, count in CASES.items():
            _fuzz(fuzz_app, operation, mode, count, role, headers, path_ids, totals, failures)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nschemathesis: {totals['operations']} operations, {totals['cases']} cases, "
            f"{totals['failures']} failures in {elapsed:.0f} s"
        )
    assert totals["operations"] >= 100
    assert not failures, "\n\n".join(failures)


def _fuzz(app, operation, mode, count, role, headers, path_ids, totals, failures) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_ids or None)
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    # This operation ends the token it is called with: each call gets its own.
    revokes_token = operation.method.upper() == "DELETE" and operation.path == "/api/v1/auth/token"

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # explicit examples and shrinking would multiply the cases
    )
    @given(case=strategy)
    def run(case):
        sent = {"Authorization": f"Bearer {_fresh_token(app, role)}"} if revokes_token else headers
        totals["cases"] += 1
        try:
            # A fresh context per request, as on a real server (see IsolatedClient).
            contextvars.Context().run(case.call_and_validate, headers=sent, checks=checks)
        except FailureGroup as group:
            totals["failures"] += 1
            if len(failures) < 20:
                failures.append(f"{operation.label} [{mode.value}]: {group}")

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no body, no query, fixed path


def _fresh_token(app, role: Role) -> str:
    from accounts import services as accounts
    from accounts.models import User

    ctx = contextvars.Context()

    def issue() -> str:
        from sqlalchemy import select

        from core.db import db

        with app.app_context():
            user = db.session.scalar(select(User).where(User.role == role).limit(1))
            token, _row = accounts.issue_token(db.session, user, name="fuzz")
            db.session.commit()
            return token

    return ctx.run(issue)
