"""What the deployment files may set: the GATEWAY_* variables the gateway reads."""

from __future__ import annotations

from connectors.registry import AGENCIES
from gateway.core.settings import AgencySettings, Settings


def known_settings() -> set[str]:
    """Every GATEWAY_* variable the gateway reads."""
    plain = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields if name != "agencies"}
    per_agency = {
        f"GATEWAY_AGENCY_{agency.upper()}_{field.upper()}"
        for agency in AGENCIES
        for field in AgencySettings.model_fields
        if field != "name"
    }
    return plain | per_agency
