"""Prometheus metrics. One registry per application, so replicas in one test don't mix.

Labels are agencies, routes and outcomes only: never a subject, name or case.

Counters and this replica's gauges are exported by every replica: add them up across
replicas. The gauges read from the database ("cluster-wide" in their help) are exported by
the leader only (``gateway.store.leader``; the other replicas export none of their samples),
so that they are not counted once per replica: read them with ``max by (...)``, which also
drops the replica's ``instance`` label when the lead moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class OptionalGauge(Collector):
    """A gauge without labels that has no sample until it is set, and none again once
    cleared (a ``Gauge`` without labels always shows one, 0 before it is set: a replica that
    does not lead would report a broken audit chain)."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._value: float | None = None
        registry.register(self)

    @property
    def value(self) -> float | None:
        return self._value

    def set(self, value: float) -> None:
        self._value = float(value)

    def clear(self) -> None:
        self._value = None

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily(self._name, self._documentation)]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._documentation)
        if self._value is not None:
            family.add_metric([], self._value)
        return [family]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "gateway_http_requests_total",
            "HTTP requests served.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "gateway_http_request_seconds",
            "HTTP request handling time.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batches_submitted = Counter(
            "gateway_batches_submitted_total", "Batches accepted.", registry=r
        )
        self.subjects_submitted = Counter(
            "gateway_subjects_submitted_total", "Subjects in accepted batches.", registry=r
        )
        self.batches_rejected = Counter(
            "gateway_batches_rejected_total",
            "Batch submissions refused.",
            ["reason"],
            registry=r,
        )
        self.agency_calls = Counter(
            "gateway_agency_calls_total",
            "Calls made to agencies (every attempt).",
            ["agency", "outcome"],
            registry=r,
        )
        self.agency_latency = Histogram(
            "gateway_agency_call_seconds",
            "Agency call time per attempt.",
            ["agency"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.agency_requests = Counter(
            "gateway_agency_requests_total",
            "HTTP requests sent to agencies (every attempt of every request), by outcome.",
            ["agency", "outcome"],
            registry=r,
        )
        self.agency_request_latency = Histogram(
            "gateway_agency_request_seconds",
            "Agency time per HTTP request.",
            ["agency"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inquiries_waiting = Gauge(
            "gateway_inquiries_waiting",
            "Inquiries waiting to be asked again after a failed attempt; cluster-wide, "
            "exported by the leader replica only.",
            ["agency"],
            registry=r,
        )
        self.inquiries_late = Gauge(
            "gateway_inquiries_late",
            "Inquiries unanswered longer than GATEWAY_WAITING_WARNING; cluster-wide, exported "
            "by the leader replica only.",
            ["agency"],
            registry=r,
        )
        self.inquiries_overdue = Counter(
            "gateway_inquiries_overdue_total",
            "Inquiries failed because the agency gave no answer within its deadline.",
            ["agency"],
            registry=r,
        )
        self.inquiries_completed = Counter(
            "gateway_inquiries_completed_total",
            "Inquiries with a recorded result.",
            ["agency", "status"],
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_agency_in_flight",
            "Agency requests in flight in this process.",
            ["agency"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "gateway_queue_depth",
            "Unanswered inquiries by state: queued (to be asked), leased (being asked), held "
            "(their batch awaits approval); cluster-wide, exported by the leader replica only.",
            ["agency", "state"],
            registry=r,
        )
        self.interceptions = Counter(
            "gateway_interceptions_total",
            "Batch submissions intercepted by an accountability rule.",
            ["reason"],
            registry=r,
        )
        self.alerts = Counter(
            "gateway_alerts_total",
            "Risk alerts raised for the command centre.",
            ["kind"],
            registry=r,
        )
        self.approvals = Counter(
            "gateway_batch_approvals_total",
            "Batches held for a commander's approval, and the decisions on them.",
            ["decision"],
            registry=r,
        )
        self.purged = Counter(
            "gateway_retention_purged_total",
            "Personal data purged after the retention period: batches, subjects, agency records.",
            ["kind"],
            registry=r,
        )
        self.claim_seconds = Histogram(
            "gateway_claim_seconds",
            "Time of one claim of inquiries for one agency (the query, once it has a connection).",
            ["agency"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=r,
        )
        self.result_flush_seconds = Histogram(
            "gateway_result_flush_seconds",
            "Time to commit one group of results.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        # Resilience (gateway/breaker.py, budget.py, limits.py): per agency, never per subject.
        self.in_flight_global = Gauge(
            "gateway_agency_in_flight_global",
            "Agency requests in flight across all replicas, as last reported to the database.",
            ["agency"],
            registry=r,
        )
        self.limit_wait = Histogram(
            "gateway_agency_limit_wait_seconds",
            "Time a request waited for an in-flight permit and a send time.",
            ["agency"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.breaker_state = Gauge(
            "gateway_breaker_state",
            "Circuit breaker per agency: 0 closed, 1 half-open, 2 open.",
            ["agency"],
            registry=r,
        )
        self.breaker_opened = Counter(
            "gateway_breaker_opened_total", "Times a breaker opened.", ["agency"], registry=r
        )
        self.retries = Counter(
            "gateway_retries_total",
            "Retries asked of the retry budget, by decision (allowed, denied).",
            ["agency", "decision"],
            registry=r,
        )
        self.deferred = Counter(
            "gateway_inquiries_deferred_total",
            "Inquiries given back to the queue unanswered, by reason.",
            ["agency", "reason"],
            registry=r,
        )
        self.recent_error_rate = Gauge(
            "gateway_agency_recent_error_rate",
            "Share of failed agency calls over the last minute (this replica).",
            ["agency"],
            registry=r,
        )
        self.recent_latency = Gauge(
            "gateway_agency_recent_latency_seconds",
            "Median agency time per request over recent requests (this replica).",
            ["agency"],
            registry=r,
        )
        # Cluster-wide figures read from the database: the leader replica only (see above).
        self.cluster_leader = Gauge(
            "gateway_cluster_leader",
            "1 when this replica is the leader, which exports the cluster-wide figures.",
            registry=r,
        )
        self.batches = Gauge(
            "gateway_batches",
            "Batches by status, every batch ever submitted; cluster-wide, exported by the "
            "leader replica only.",
            ["status"],
            registry=r,
        )
        self.detentions_assisted = Gauge(
            "gateway_detentions_assisted",
            "Detentions assisted: police results whose station took the request for detention "
            "assistance (accepted or dispatched); cluster-wide, exported by the leader replica "
            "only.",
            ["agency"],
            registry=r,
        )
        self.controls_in_effect = Gauge(
            "gateway_controls_in_effect",
            "Holds in effect by action (seal, seize, freeze); cluster-wide, exported by the "
            "leader replica only.",
            ["action"],
            registry=r,
        )
        self.controls_expiring = OptionalGauge(
            "gateway_controls_expiring",
            "Holds in effect whose last day is within GATEWAY_EXPIRY_WINDOW_DAYS; cluster-wide, "
            "exported by the leader replica only.",
            registry=r,
        )
        self.control_order_age = OptionalGauge(
            "gateway_control_order_oldest_seconds",
            "Age of the oldest control order (hold, renewal, release) still on its way to an "
            "agency, 0 when none; cluster-wide, exported by the leader replica only.",
            registry=r,
        )
        self.control_steps = Counter(
            "gateway_control_steps_total",
            "Steps of control actions: requested, approved, rejected, in_effect, queued_behind, "
            "refused, renewed, released, expired, reminded.",
            ["action", "step"],
            registry=r,
        )
        self.control_sends = Counter(
            "gateway_control_sends_total",
            "Control orders sent to agencies, by outcome (answered, refused, retry).",
            ["agency", "outcome"],
            registry=r,
        )
        self.closure_requeries = Counter(
            "gateway_closure_requeries_total",
            "Re-query batches the 终本 schedule submitted, and assets new to a case they found.",
            ["kind"],
            registry=r,
        )
        self.audit_chain_length = OptionalGauge(
            "gateway_audit_chain_length",
            "Records in the audit chain (the seq of its head); cluster-wide, exported by the "
            "leader replica only.",
            registry=r,
        )
        self.audit_chain_verified = OptionalGauge(
            "gateway_audit_chain_verified",
            "Result of the last verification of the whole audit chain: 1 intact, 0 broken; "
            "cluster-wide, exported by the leader replica only.",
            registry=r,
        )
        self.audit_verification_records = OptionalGauge(
            "gateway_audit_verification_records",
            "Records the last audit chain verification found intact (all of them when the "
            "chain is); cluster-wide, exported by the leader replica only.",
            registry=r,
        )
        self.audit_verification_time = OptionalGauge(
            "gateway_audit_verification_timestamp_seconds",
            "When the last audit chain verification finished (Unix time); cluster-wide, "
            "exported by the leader replica only.",
            registry=r,
        )
