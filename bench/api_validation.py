"""API latency with and without the validation layer (issue 13, item 1): p95 per endpoint, same run.

    python -m bench.api_validation [--requests 200]

Each endpoint is called alternately with the layer on (the models of core/schemas.py checking the
body and query before the view runs) and off (``API_VALIDATION = False``: the view gets the raw JSON
values and query strings, as the views read them before the layer existed), one request each in turn,
so that drift and the machine's other load (2 shared cores) fall on both sides alike. Requests go
through the whole Flask stack in-process: routing, bearer-token sign-in, the view, its service and
the database.

Figure: p95 with validation / p95 without, per endpoint, in 5 back-to-back rounds; the median round's
ratio is the figure (one round's p95 swings by 10-20 % with the other engineers' load). The goal,
"unchanged or better", is taken as a median ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import contextvars
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL = 1.05
ROUNDS = 5


def make_app(folder: Path):
    from alembic import command

    from core.app import create_app
    from core.cli import alembic_config

    app = create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "CELERY_EAGER": True,
            "RATELIMIT_ENABLED": False,
            "PASSWORD_HASH_PARAMS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
        }
    )
    with app.app_context():
        command.upgrade(alembic_config(), "head")
    return app


def scene(app) -> tuple[dict[str, dict], str, str]:
    """Tokens for an agency user and a supervisor, and a draft tender of the agency's."""
    from accounts import services as accounts
    from bidding import services as bidding
    from core.db import db
    from core.roles import Role
    from tests.factories import People

    with app.app_context():
        people = People(app, db.session)
        agent, supervisor = people.user(Role.AGENCY), people.user(Role.SUPERVISOR)
        tenderee = people.org("tenderee")
        headers = {}
        for name, user in (("agency", agent), ("supervisor", supervisor)):
            token, _row = accounts.issue_token(db.session, user, name="bench")
            headers[name] = {"Authorization": f"Bearer {token}"}
        tender = bidding.create_draft(
            db.session,
            agent,
            bidding.parse_tender(tender_body(str(tenderee.id))),
        )
        db.session.commit()
        return headers, str(tender.id), str(tenderee.id)


def tender_body(tenderee_id: str) -> dict:
    money = {"amount_fen": 400_000_000, "currency": "CNY"}
    return {
        "title": "城区供水管网改造工程施工",
        "track": "works",
        "category": "施工",
        "description": "管网改造，含三个标段。" * 20,
        "region": "福州",
        "tenderee_id": tenderee_id,
        "estimated_price": {"amount_fen": 1_200_000_000, "currency": "CNY"},
        "deposit": {"amount_fen": 8_000_000, "currency": "CNY"},
        "lots": [
            {"name": f"第{n}标段", "estimated_price": money, "deposit": {"amount_fen": 0}} for n in (1, 2, 3)
        ],
        "timeline": {
            "documents_from": "2027-03-01T09:00:00+08:00",
            "documents_to": "2027-03-08T17:00:00+08:00",
            "clarification_deadline": "2027-03-10T17:00:00+08:00",
            "objection_deadline": "2027-03-15T17:00:00+08:00",
            "bid_deadline": "2027-03-25T09:30:00+08:00",
        },
        "state_controlled": True,
    }


def scheme_body() -> dict:
    criteria = [
        {
            "key": f"T{n}",
            "name": f"技术评审项{n}",
            "part": "technical",
            "kind": "subjective",
            "max_points": 10,
        }
        for n in range(1, 7)
    ]
    criteria.append({"key": "Q1", "name": "资格", "part": "qualification", "kind": "pass_fail"})
    return {
        "method": "comprehensive",
        "subject": "works",
        "criteria": criteria,
        "price": {"formula": "lowest_valid", "points": 40},
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per endpoint, side and round")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sunbid-bench-api-") as tmp:
        app = make_app(Path(tmp))
        headers, tender_id, tenderee_id = scene(app)
        client = app.test_client()
        endpoints = [
            ("PATCH /tenders/{id} (tender, 3 lots)", "PATCH", f"/api/v1/tenders/{tender_id}",
             {"json": tender_body(tenderee_id), "headers": headers["agency"]}),
            ("PUT /tenders/{id}/scoring-scheme", "PUT", f"/api/v1/tenders/{tender_id}/scoring-scheme",
             {"json": scheme_body(), "headers": headers["agency"]}),
            ("GET /tenders?q=&page=&per_page=", "GET", "/api/v1/tenders?q=供水&page=1&per_page=20", {}),
            ("GET /audit/entries?action=&per_page=", "GET",
             "/api/v1/audit/entries?action=bidding.&per_page=50", {"headers": headers["supervisor"]}),
        ]  # fmt: skip
        failed = False
        print(f"{ROUNDS} rounds of {args.requests} requests per endpoint and side, alternating")
        print(f"{'endpoint':40} {'p95 on ms':>10} {'p95 off ms':>11} {'ratio':>6}  (median on/off ms)")
        for label, method, url, kwargs in endpoints:
            for _warm in range(10):
                call(client, method, url, kwargs)
            rounds = []
            for _round in range(ROUNDS):
                timings: dict[bool, list[float]] = {True: [], False: []}
                for _ in range(args.requests):
                    for on in (True, False):
                        app.config["API_VALIDATION"] = on
                        timings[on].append(call(client, method, url, kwargs))
                p95 = {on: percentile(values, 95) for on, values in timings.items()}
                rounds.append((p95[True] / p95[False], p95, timings))
            app.config["API_VALIDATION"] = True
            ratio, p95, timings = sorted(rounds, key=lambda r: r[0])[ROUNDS // 2]
            failed |= ratio > GOAL
            medians = f"{statistics.median(timings[True]):.2f}/{statistics.median(timings[False]):.2f}"
            spread = ", ".join(f"{r[0]:.2f}" for r in rounds)
            print(
                f"{label:40} {p95[True]:10.2f} {p95[False]:11.2f} {ratio:6.3f}  ({medians}; rounds {spread})"
            )
        app.extensions["sunbid.db"]["engine"].dispose()
    print(f"goal: median round's p95 ratio <= {GOAL} for every endpoint: {'NOT met' if failed else 'met'}")
    return 1 if failed else 0


def call(client, method: str, url: str, kwargs: dict) -> float:
    started = time.perf_counter()
    response = contextvars.Context().run(client.open, url, method=method, **kwargs)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code >= 400:
        raise SystemExit(f"{method} {url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return elapsed


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
