"""Browser tests use the fixtures of tests/conftest.py (browser, live_server, page)."""

from tests.bidding.conftest import cast, tender  # noqa: F401  (a published tender and its people)
from tests.evaluation.test_room import committee, opened  # noqa: F401  (a closed opening, a committee)
