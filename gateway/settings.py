"""Every setting in one frozen object, read from ``GATEWAY_*`` environment variables."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from connectors.registry import AGENCIES, DEFAULT_MOCK_PORTS
from gateway.crypto import DataCipher, load_cipher
from gateway.errors import ConfigurationError
from gateway.resilience_settings import ResilienceSettings

#: realistic defaults per agency: (per-attempt timeout s, max in flight, max requests/s).
#: Limits count HTTP requests, as agencies do (gateway/limits.py), held across all replicas;
#: a little under the stand-ins' limits (mocks/faults.py); max requests/s 0 = no limit.
_AGENCY_DEFAULTS: dict[str, tuple[float, int, float]] = {
    "household": (5.0, 16, 60.0),
    "realestate": (10.0, 12, 50.0),
    "vehicle": (10.0, 4, 12.0),
    "forestry": (8.0, 4, 6.0),
    "subsidy": (10.0, 24, 200.0),
    "police": (10.0, 6, 32.0),
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean (true/false)")


@dataclass(frozen=True, slots=True)
class AgencySettings:
    name: str
    url: str
    timeout: float
    max_in_flight: int
    max_rps: float


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".gateway-data")
    host: str = "127.0.0.1"
    port: int = 8080
    max_subjects: int = 100_000
    max_body_bytes: int = 32 * 1024 * 1024
    lease_seconds: float = 60.0
    claim_chunk: int = 200
    poll_seconds: float = 1.0
    max_attempts: int = 4
    backoff_base: float = 0.2
    backoff_cap: float = 30.0
    flush_size: int = 200
    flush_seconds: float = 0.05
    log_format: str = "auto"
    log_level: str = "info"
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # Secrets: kept out of repr so a settings dump in a log never shows them.
    data_key: str | None = field(default=None, repr=False)
    data_keys_old: str | None = field(default=None, repr=False)
    digest_key: str | None = field(default=None, repr=False)
    agencies: Mapping[str, AgencySettings] = field(default_factory=dict)
    resilience: ResilienceSettings = field(default_factory=ResilienceSettings)
    # Accountability rules (gateway/rules.py, gateway/alerts.py); 0 switches a limit off.
    require_filed_case: bool = True
    quota_subjects_per_day: int = 5000
    requery_days: int = 30
    approval_threshold: int = 500
    timezone: str = "Asia/Shanghai"
    working_hours: str = "08:00-18:00"  # "" switches the off-hours alert off
    working_days: str = "mon-fri"
    volume_alert_factor: float = 3.0
    volume_alert_floor: int = 200
    cross_team_alert_teams: int = 3
    cross_team_alert_days: int = 30
    # The time the rules and alerts see; tests inject a fixed one (never read from the env).
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        base = cls()
        try:
            settings = cls(
                database_url=env.get("GATEWAY_DATABASE_URL") or None,
                data_dir=Path(env.get("GATEWAY_DATA_DIR", str(base.data_dir))),
                host=env.get("GATEWAY_HOST", base.host),
                port=int(env.get("GATEWAY_PORT", base.port)),
                max_subjects=int(env.get("GATEWAY_MAX_SUBJECTS", base.max_subjects)),
                max_body_bytes=int(env.get("GATEWAY_MAX_BODY_BYTES", base.max_body_bytes)),
                lease_seconds=float(env.get("GATEWAY_LEASE_SECONDS", base.lease_seconds)),
                claim_chunk=int(env.get("GATEWAY_CLAIM_CHUNK", base.claim_chunk)),
                poll_seconds=float(env.get("GATEWAY_POLL_SECONDS", base.poll_seconds)),
                max_attempts=int(env.get("GATEWAY_MAX_ATTEMPTS", base.max_attempts)),
                backoff_base=float(env.get("GATEWAY_BACKOFF_BASE", base.backoff_base)),
                backoff_cap=float(env.get("GATEWAY_BACKOFF_CAP", base.backoff_cap)),
                flush_size=int(env.get("GATEWAY_FLUSH_SIZE", base.flush_size)),
                flush_seconds=float(env.get("GATEWAY_FLUSH_SECONDS", base.flush_seconds)),
                log_format=env.get("GATEWAY_LOG_FORMAT", base.log_format),
                log_level=env.get("GATEWAY_LOG_LEVEL", base.log_level),
                worker_id=env.get("GATEWAY_WORKER_ID") or base.worker_id,
                data_key=env.get("GATEWAY_DATA_KEY") or None,
                data_keys_old=env.get("GATEWAY_DATA_KEYS_OLD") or None,
                digest_key=env.get("GATEWAY_DIGEST_KEY") or None,
                agencies=_agencies_from_env(env),
                resilience=ResilienceSettings.from_env(env),
                require_filed_case=_flag(env.get("GATEWAY_REQUIRE_FILED_CASE", "true")),
                quota_subjects_per_day=int(
                    env.get("GATEWAY_QUOTA_SUBJECTS_PER_DAY", base.quota_subjects_per_day)
                ),
                requery_days=int(env.get("GATEWAY_REQUERY_DAYS", base.requery_days)),
                approval_threshold=int(
                    env.get("GATEWAY_APPROVAL_THRESHOLD", base.approval_threshold)
                ),
                timezone=env.get("GATEWAY_TIMEZONE", base.timezone),
                working_hours=env.get("GATEWAY_WORKING_HOURS", base.working_hours),
                working_days=env.get("GATEWAY_WORKING_DAYS", base.working_days),
                volume_alert_factor=float(
                    env.get("GATEWAY_VOLUME_ALERT_FACTOR", base.volume_alert_factor)
                ),
                volume_alert_floor=int(
                    env.get("GATEWAY_VOLUME_ALERT_FLOOR", base.volume_alert_floor)
                ),
                cross_team_alert_teams=int(
                    env.get("GATEWAY_CROSS_TEAM_ALERT_TEAMS", base.cross_team_alert_teams)
                ),
                cross_team_alert_days=int(
                    env.get("GATEWAY_CROSS_TEAM_ALERT_DAYS", base.cross_team_alert_days)
                ),
            )
        except ValueError as exc:
            raise ConfigurationError(f"bad GATEWAY_* setting: {exc}") from exc
        check_settings(settings)
        return settings

    def with_agency_urls(self, urls: Mapping[str, str]) -> Settings:
        agencies = dict(self.agencies)
        for name, url in urls.items():
            agencies[name] = replace(agencies[name], url=url)
        return replace(self, agencies=agencies)

    def cipher(self) -> DataCipher:
        return load_cipher(self.data_key, self.data_keys_old, self.digest_key, self.data_dir)

    def replace(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _agencies_from_env(env: Mapping[str, str]) -> dict[str, AgencySettings]:
    agencies = {}
    for name in AGENCIES:
        prefix = f"GATEWAY_AGENCY_{name.upper()}_"
        timeout, in_flight, rps = _AGENCY_DEFAULTS[name]
        agencies[name] = AgencySettings(
            name=name,
            url=env.get(prefix + "URL", f"http://127.0.0.1:{DEFAULT_MOCK_PORTS[name]}"),
            timeout=float(env.get(prefix + "TIMEOUT", timeout)),
            max_in_flight=int(env.get(prefix + "MAX_IN_FLIGHT", in_flight)),
            max_rps=float(env.get(prefix + "MAX_RPS", rps)),
        )
    return agencies


def check_settings(settings: Settings) -> None:
    """Refuse at start-up, naming the variable, values that parse but cannot work: an agency
    URL that is empty or not http(s), limits, sizes and times of zero or less."""
    problems: list[str] = []

    def at_least(name: str, value: float, low: float, *, above: bool = False) -> None:
        ok = math.isfinite(value) and (value > low if above else value >= low)
        if not ok:
            problems.append(f"{name} must be {'greater than' if above else 'at least'} {low:g}")

    at_least("GATEWAY_MAX_SUBJECTS", settings.max_subjects, 1)
    at_least("GATEWAY_MAX_BODY_BYTES", settings.max_body_bytes, 1)
    at_least("GATEWAY_LEASE_SECONDS", settings.lease_seconds, 0, above=True)
    at_least("GATEWAY_CLAIM_CHUNK", settings.claim_chunk, 1)
    at_least("GATEWAY_POLL_SECONDS", settings.poll_seconds, 0, above=True)
    at_least("GATEWAY_MAX_ATTEMPTS", settings.max_attempts, 1)
    at_least("GATEWAY_BACKOFF_BASE", settings.backoff_base, 0)
    at_least("GATEWAY_BACKOFF_CAP", settings.backoff_cap, 0)
    at_least("GATEWAY_FLUSH_SIZE", settings.flush_size, 1)
    at_least("GATEWAY_FLUSH_SECONDS", settings.flush_seconds, 0, above=True)
    if not 0 <= settings.port <= 65535:
        problems.append("GATEWAY_PORT must be 0 to 65535")
    for name, agency in settings.agencies.items():
        prefix = f"GATEWAY_AGENCY_{name.upper()}_"
        if not _http_url(agency.url):
            problems.append(f"{prefix}URL must be an http:// or https:// URL with a host")
        at_least(prefix + "TIMEOUT", agency.timeout, 0, above=True)
        at_least(prefix + "MAX_IN_FLIGHT", agency.max_in_flight, 1)
        at_least(prefix + "MAX_RPS", agency.max_rps, 0)  # 0: no limit
    if problems:
        raise ConfigurationError("bad GATEWAY_* setting: " + "; ".join(problems))


def _http_url(value: str) -> bool:
    try:
        url = urlsplit(value)
        # .port raises ValueError on a port that is not a number from 0 to 65535
        return url.scheme in ("http", "https") and bool(url.hostname) and (url.port or 0) >= 0
    except ValueError:
        return False
