"""One agency's settings (``GATEWAY_AGENCY_<NAME>_<FIELD>``) and their defaults; part of the
settings table in ``gateway.core.settings``."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.registry import AGENCIES, DEFAULT_MOCK_PORTS

#: realistic defaults per agency: (per-attempt timeout s, max in flight, max requests/s).
#: Limits count HTTP requests, as agencies do (gateway/worker/limits.py), held across all
#: replicas; a little under the stand-ins' limits (mocks/faults.py); max requests/s 0 = none.
AGENCY_DEFAULTS: Mapping[str, tuple[float, int, float]] = {
    "household": (5.0, 16, 60.0),
    "realestate": (10.0, 12, 50.0),
    "vehicle": (10.0, 4, 12.0),
    "forestry": (8.0, 4, 6.0),
    "subsidy": (10.0, 24, 200.0),
    "police": (10.0, 6, 32.0),
}


def http_url(value: str) -> str:
    """``value`` if it is an http:// or https:// URL with a host, else ValueError."""
    try:
        url = urlsplit(value)
        # .port raises ValueError on a port that is not a number from 0 to 65535
        ok = url.scheme in ("http", "https") and bool(url.hostname) and (url.port or 0) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


class AgencySettings(BaseModel):
    """One agency: where it is and what it allows (``GATEWAY_AGENCY_<NAME>_<FIELD>``)."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False, extra="forbid")

    name: str = Field(exclude=True, description="the agency's stable name")
    url: str = Field(description="the agency's base URL (http:// or https://)")
    timeout: float = Field(gt=0, description="seconds per attempt")
    max_in_flight: int = Field(ge=1, description="requests in flight, across all replicas")
    max_rps: float = Field(ge=0, description="requests per second across replicas; 0: no limit")
    max_attempts: int | None = Field(
        default=None, ge=1, description="attempts per inquiry (default GATEWAY_MAX_ATTEMPTS)"
    )
    max_calls: int | None = Field(
        default=None,
        ge=1,
        description="connector calls at once per replica (default 2 x in flight)",
    )
    answer_deadline: float = Field(
        default=86400.0,
        gt=0,
        description="seconds from submission (a held batch: from its approval) the agency has "
        "to answer (反馈期限); until then a transient failure is asked again, after it the "
        "inquiry fails",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @classmethod
    def default(cls, name: str) -> AgencySettings:
        timeout, in_flight, rps = AGENCY_DEFAULTS[name]
        url = f"http://127.0.0.1:{DEFAULT_MOCK_PORTS[name]}"
        return cls(name=name, url=url, timeout=timeout, max_in_flight=in_flight, max_rps=rps)


def default_agencies() -> dict[str, AgencySettings]:
    return {name: AgencySettings.default(name) for name in AGENCIES}
