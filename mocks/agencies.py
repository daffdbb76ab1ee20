"""The stand-in agencies' own list of names and default ports.

Kept here, not imported from the gateway's registry, so that the stand-ins share nothing with
the code they stand in for; ``tests/integration/connectors/test_registry.py`` checks both
lists agree.
"""

from __future__ import annotations

#: the six stand-in agencies, in the order ``python -m mocks`` starts them
AGENCIES: tuple[str, ...] = ("household", "realestate", "vehicle", "forestry", "subsidy", "police")

#: where ``python -m mocks`` serves each agency by default: 18101, 18102, ... in order
DEFAULT_PORTS: dict[str, int] = {name: 18101 + index for index, name in enumerate(AGENCIES)}
