"""Every setting in one declared table: a frozen pydantic-settings model read from
``GATEWAY_*`` environment variables.

Each field is one variable (``GATEWAY_`` + the field's name in capitals) with its type, default,
check (the field's constraints) and meaning (its description); per-agency settings are
``GATEWAY_AGENCY_<NAME>_<FIELD>`` (``AgencySettings``). The README's configuration section is
generated from this table (``python -m gateway.core.settings_doc``) and a test keeps them
equal. A value that cannot work stops the start-up with a ``ConfigurationError`` naming the
variable.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.core.agency_settings import AGENCY_DEFAULTS as AGENCY_DEFAULTS
from gateway.core.agency_settings import AgencySettings as AgencySettings
from gateway.core.agency_settings import default_agencies, http_url
from gateway.core.control_settings import ControlSettings
from gateway.core.errors import ConfigurationError
from gateway.core.settings_source import AGENCY_PREFIX as AGENCY_PREFIX
from gateway.core.settings_source import PREFIX as PREFIX
from gateway.core.settings_source import GatewayEnvironment, describe
from gateway.core.settings_source import agency_variable as agency_variable
from gateway.core.settings_source import variable as variable
from gateway.core.working_time import parse_days, parse_hours


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Settings(ControlSettings):
    """The gateway's settings; build with ``Settings.from_env()`` (the control actions' own
    are declared in ``control_settings``)."""

    model_config = SettingsConfigDict(frozen=True, allow_inf_nan=False, extra="forbid")

    # -- where things are
    database_url: str | None = Field(
        default=None,
        repr=False,
        description="PostgreSQL URL; unset starts the embedded server in GATEWAY_DATA_DIR",
    )
    data_dir: Path = Field(
        default=Path(".gateway-data"), description="embedded database, generated keys, demo log"
    )
    migrate_on_start: bool | None = Field(
        default=None,
        description="apply missing migrations when the service starts; unset: only with the "
        "embedded database (else `gateway migrate`, run as the schema's owner, applies them: "
        "the service's own role may not alter the schema, and refuses to start on an old one)",
    )
    host: str = Field(default="127.0.0.1", description="where the API listens")
    port: int = Field(default=8080, ge=0, le=65535, description="the API's port")
    worker_id: str = Field(
        default_factory=_worker_id, description="this replica's name in leases (host:pid)"
    )
    # -- requests
    max_subjects: int = Field(default=100_000, ge=1, description="subjects per batch")
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1, description="request body limit")
    intake_processes: int = Field(
        default=1,
        ge=0,
        le=8,
        description="helper processes sharing the checking and sealing of lists of 20,000 "
        "rows or more (the first started with the gateway, others when lists arrive "
        "together); 0: all of it in the serving process",
    )
    # -- dispatch
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="claim lease, renewed every third of it while alive: a killed replica's "
        "work waits this long for another",
    )
    drain_seconds: float = Field(
        default=20.0,
        ge=0,
        description="on SIGTERM: how long the agency calls in flight may take to end before "
        "the rest is handed back to the queue (keep Kubernetes' terminationGracePeriodSeconds "
        "above it)",
    )
    claim_chunk: int = Field(default=200, ge=1, description="inquiries claimed at once")
    poll_seconds: float = Field(
        default=1.0, gt=0, description="idle poll of the queue (NOTIFY wakes sooner)"
    )
    flush_size: int = Field(default=200, ge=1, description="results per group commit")
    flush_seconds: float = Field(
        default=0.05,
        gt=0,
        description="longest wait for a group commit to fill, while other answers are coming "
        "(an answer with none on its way is committed at once)",
    )
    # -- retries
    max_attempts: int = Field(
        default=4,
        ge=1,
        description="attempts of a whole agency protocol per claim; then the inquiry waits",
    )
    request_attempts: int = Field(
        default=6, ge=1, description="attempts of one HTTP request before its step gives up"
    )
    requeue_backoff_cap: float = Field(
        default=600.0,
        gt=0,
        description="longest wait, seconds, before an inquiry that failed is asked again",
    )
    waiting_warning: float = Field(
        default=3600.0,
        gt=0,
        description="seconds unanswered after which an inquiry counts as late",
    )
    backoff_base: float = Field(default=0.2, ge=0, description="full-jitter backoff: first cap, s")
    backoff_cap: float = Field(default=30.0, ge=0, description="full-jitter backoff: largest, s")
    max_inline_wait: float = Field(
        default=5.0,
        ge=0,
        description="longer backoffs give the inquiry back to the queue instead of sleeping",
    )
    retry_budget_ratio: float = Field(
        default=0.2, ge=0, description="retries per first attempt, over the budget's window"
    )
    retry_budget_window: float = Field(default=10.0, ge=0, description="retry budget window, s")
    retry_budget_min_per_second: float = Field(
        default=1.0, ge=0, description="retries allowed however few the first attempts"
    )
    # -- circuit breakers
    breaker_failures: int = Field(
        default=5, ge=0, description="consecutive failures that open a breaker"
    )
    breaker_failure_rate: float = Field(
        default=0.5, ge=0, description="... or this share of failed calls"
    )
    breaker_min_calls: int = Field(default=20, ge=0, description="... over at least this many")
    breaker_window: float = Field(default=30.0, ge=0, description="... within this many seconds")
    breaker_probe_delay: float = Field(
        default=5.0, ge=0, description="seconds open before probing again"
    )
    breaker_probes: int = Field(
        default=3, ge=0, description="successful probes (one at a time) that close it"
    )
    # -- agency limits across replicas
    limit_lease_seconds: float = Field(
        default=5.0, ge=0, description="lease on this replica's share of in-flight permits"
    )
    limit_sync_seconds: float = Field(
        default=0.5, ge=0, description="how often shares are renewed and rebalanced"
    )
    limit_linger: float = Field(
        default=0.1, ge=0, description="seconds a failed request keeps its permit"
    )
    rate_tolerance: float = Field(
        default=0.2, ge=0, description="seconds a reserved send time may be used late"
    )
    # -- the leader replica: cluster-wide metrics and the audit chain's verification
    leader_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often a replica tries to become the leader (the one exporting the "
        "cluster-wide metrics), and the leader checks that it still is",
    )
    cluster_metrics_seconds: float = Field(
        default=15.0,
        gt=0,
        description="how often the leader counts the cluster-wide metrics in the database",
    )
    audit_verify_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="how often the leader verifies the whole audit chain "
        "(gateway_audit_chain_verified)",
    )
    retention_days: int = Field(
        default=180,
        ge=1,
        description="days after a batch finishes that its subjects' names and identifiers and "
        "the agencies' records are kept; the leader then purges them (counts, statistics and "
        "the audit chain stay; `gateway purge --dry-run` shows what is due)",
    )
    purge_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="how often the leader purges what has outlived GATEWAY_RETENTION_DAYS",
    )
    agencies: dict[str, AgencySettings] = Field(
        default_factory=default_agencies, description="GATEWAY_AGENCY_<NAME>_<FIELD>"
    )
    # -- accountability rules; 0 (or false) switches a rule off
    require_filed_case: bool = Field(
        default=True, description="only registered cases, and only by their team"
    )
    quota_subjects_per_day: int = Field(
        default=5000, ge=0, description="subjects per officer per local day"
    )
    requery_days: int = Field(
        default=30, ge=0, description="a subject asked again within N days needs a reason"
    )
    approval_threshold: int = Field(
        default=500, ge=0, description="distinct subjects per case before a commander approves"
    )
    timezone: str = Field(default="Asia/Shanghai", description="local time of the courts")
    working_hours: str = Field(
        default="08:00-18:00", description='off-hours alert outside these ("" = off)'
    )
    working_days: str = Field(default="mon-fri", description="working days, e.g. mon-fri")
    volume_alert_factor: float = Field(
        default=3.0, ge=0, description="alert above this x an officer's 30-day daily average"
    )
    volume_alert_floor: int = Field(default=200, ge=0, description="... and above this many")
    cross_team_alert_teams: int = Field(
        default=3, ge=0, description="alert when a subject is asked for by this many teams"
    )
    cross_team_alert_days: int = Field(default=30, ge=0, description="... within this many days")
    # -- web pages
    web_session_hours: float = Field(
        default=8.0, gt=0, description="hours a web session lasts (never longer than its token)"
    )
    web_secure_cookies: bool = Field(
        default=False,
        description="mark session cookies Secure (set it when the pages are served over HTTPS)",
    )
    # -- logs
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="least severe level logged"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: JSON unless on a terminal"
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="the processes' event loop: uvloop (its sockets and scheduling in C: less "
        "CPU per agency call and per query) or Python's own",
    )
    gc_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Python's garbage collector in the server: objects allocated between "
        "collections of the youngest generation (Python's own: 700), with what start-up built "
        "frozen out of every collection; 0 keeps Python's defaults. Under load the defaults "
        "spent about a sixth of the gateway's CPU collecting",
    )
    # -- the officers' command line (gateway submit, status, ...): the gateway it asks
    url: str = Field(
        default="http://127.0.0.1:8080", description="the gateway the command line asks (--url)"
    )
    token: str = Field(
        default="", repr=False, description="the officer's API token for the command line (--token)"
    )
    # -- personal data keys (base64 of 32 bytes); generated into GATEWAY_DATA_DIR when unset
    data_key: str | None = Field(
        default=None, repr=False, description="active data key (`gateway keys generate`)"
    )
    data_keys_old: str | None = Field(
        default=None, repr=False, description="older data keys, comma-separated, still readable"
    )
    digest_key: str | None = Field(
        default=None, repr=False, description="key of the subject digests (never rotates)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment is read by from_env, from the mapping it is given (tests pass
        # their own), never behind its back.
        return (init_settings,)

    @field_validator("database_url", "data_key", "data_keys_old", "digest_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone, e.g. Asia/Shanghai") from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if value.strip():
            parse_hours(value)
        return value

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_days(value)
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``env`` (default: the process environment); a value that cannot
        work raises ``ConfigurationError`` naming its variable."""
        environ = os.environ if env is None else env
        values = GatewayEnvironment(cls, environ, default_agencies())()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigurationError(describe(exc)) from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the demo; not validated again)."""
        return self.model_copy(update=changes)

    @property
    def migrates_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.database_url is None

    def with_agency_urls(self, urls: Mapping[str, str]) -> Settings:
        agencies = {
            name: agency.model_copy(update={"url": urls[name]}) if name in urls else agency
            for name, agency in self.agencies.items()
        }
        return self.replace(agencies=agencies)

    def agency_max_attempts(self, agency: str) -> int:
        return self.agencies[agency].max_attempts or self.max_attempts

    def answer_deadlines(self, agencies: Sequence[str]) -> dict[str, float]:
        """Seconds each of these agencies has to answer, in their order."""
        return {name: self.agencies[name].answer_deadline for name in agencies}

    def agency_max_calls(self, agency: str) -> int:
        settings = self.agencies[agency]
        return settings.max_calls or 2 * settings.max_in_flight
