"""Agency health, as this replica and the database see it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Breaker(BaseModel):
    """This replica's circuit breaker for the agency."""

    state: Literal["closed", "open", "half_open"]
    retry_in_seconds: float
    unavailable_for_seconds: float | None
    opened_total: int = Field(ge=0)


class InFlight(BaseModel):
    global_: int = Field(ge=0, alias="global", description="requests in flight, all replicas")
    replicas: int = Field(ge=0)
    local: int | None
    limit: int = Field(ge=0)


class Queue(BaseModel):
    queued: int = Field(ge=0, description="to be asked (batches approved or not needing it)")
    leased: int = Field(ge=0, description="being asked")
    held: int = Field(ge=0, description="in batches awaiting a commander's approval")
    waiting: int = Field(ge=0, description="to be asked again after a failed attempt")
    late: int = Field(ge=0, description="unanswered longer than GATEWAY_WAITING_WARNING")


class Recent(BaseModel):
    """This replica's HTTP requests to the agency over the last minute."""

    requests: int = Field(ge=0)
    error_rate: float | None
    median_latency_ms: float | None


class AgencyHealth(BaseModel):
    name: str
    title: str
    breaker: Breaker | None = Field(description="null: this replica dispatches nothing")
    in_flight: InFlight
    max_rps: float = Field(description="requests per second; 0: no limit")
    queue: Queue
    recent: Recent | None
    retry_budget: dict[str, int] | None


class AgencyList(BaseModel):
    agencies: list[AgencyHealth]
