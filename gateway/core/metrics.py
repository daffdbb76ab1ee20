"""Prometheus metrics. One registry per application, so replicas in one test don't mix.

Labels are agencies, routes and outcomes only: never a subject, name or case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


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
            "Inquiries waiting to be asked again after a failed attempt, across all replicas.",
            ["agency"],
            registry=r,
        )
        self.inquiries_late = Gauge(
            "gateway_inquiries_late",
            "Inquiries unanswered longer than GATEWAY_WAITING_WARNING, across all replicas.",
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
            "Inquiries waiting, across all replicas.",
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
