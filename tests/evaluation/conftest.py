"""The bidding fixtures (the people around a tender; a published tender) serve evaluation too."""

from tests.bidding.conftest import cast, tender  # noqa: F401
from tests.evaluation.test_room import committee, opened  # noqa: F401  (a closed opening, a seated committee)
