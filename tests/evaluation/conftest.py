"""The bidding fixtures (the people around a tender; a published tender) serve evaluation too."""

from tests.bidding.conftest import cast, tender  # noqa: F401
from tests.evaluation.test_room import committee, opened  # noqa: F401  (a closed opening, a seated committee)
from tests.evaluation.test_scoring import sitting  # noqa: F401  (the scheme on record, everyone checked in)
