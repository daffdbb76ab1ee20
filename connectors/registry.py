"""Every connector the gateway knows, by its stable agency name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from connectors.base import Connector

#: stable agency names, in the order the command centre lists them
AGENCIES: tuple[str, ...] = ("household", "realestate", "vehicle", "forestry", "subsidy", "police")

#: where ``python -m mocks`` serves each stand-in agency by default
DEFAULT_MOCK_PORTS: dict[str, int] = {name: 18101 + index for index, name in enumerate(AGENCIES)}


def connector_classes() -> dict[str, type[Connector]]:
    from connectors.forestry import ForestryConnector
    from connectors.household import HouseholdConnector
    from connectors.police import PoliceConnector
    from connectors.realestate import RealEstateConnector
    from connectors.subsidy import SubsidyConnector
    from connectors.vehicle import VehicleConnector

    classes: list[type[Connector]] = [
        HouseholdConnector,
        RealEstateConnector,
        VehicleConnector,
        ForestryConnector,
        SubsidyConnector,
        PoliceConnector,
    ]
    return {cls.name: cls for cls in classes}


def build_connectors(
    session: aiohttp.ClientSession,
    urls: Mapping[str, str],
    timeouts: Mapping[str, float],
) -> dict[str, Connector]:
    """One connector per agency, all sharing the one injected session."""
    return {
        name: cls(session=session, base_url=urls[name], timeout=timeouts[name])
        for name, cls in connector_classes().items()
    }
