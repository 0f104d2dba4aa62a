"""The bidding fixtures (the people around a tender; a published tender) serve evaluation too."""

from tests.bidding.conftest import cast, tender  # noqa: F401
