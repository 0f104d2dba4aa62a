"""The JSON API takes bearer tokens, not cookies, so CSRF does not apply to it: with CSRF on, as on every
real server, no API call may be refused as csrf_failed (bid uploads and submissions were, R-B2)."""

import re
import uuid

from core.app import create_app

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def test_no_api_write_is_refused_for_want_of_a_csrf_token(config):
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        methods = WRITES & set(rule.methods or ())
        if not rule.rule.startswith("/api/") or not methods:
            continue
        path = re.sub(r"<(?:uuid:)?[^>]+>", str(uuid.uuid4()), rule.rule)
        for method in methods:
            response = client.open(path, method=method, json={}, headers={"Authorization": "Bearer nope"})
            checked += 1
            error = (response.get_json(silent=True) or {}).get("error", {})
            assert error.get("code") != "csrf_failed", f"{method} {rule.rule}"
    assert checked >= 20  # tenders, bids, parts, deposits, opening, accounts...
