"""The circuit breaker and the retry budget as state machines, on an injected clock."""

from __future__ import annotations

from gateway.worker.breaker import BreakerConfig, BreakerState, CircuitBreaker, Ticket
from gateway.worker.budget import BudgetConfig, RetryBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def breaker(clock: Clock, **config: float) -> tuple[CircuitBreaker, list[BreakerState]]:
    changes: list[BreakerState] = []
    return CircuitBreaker(BreakerConfig(**config), clock, changes.append), changes  # type: ignore[arg-type]


def call(b: CircuitBreaker, ok: bool) -> None:
    ticket = b.admit()
    assert ticket is not None
    b.record(ticket, ok)


def test_five_consecutive_failures_open_the_breaker() -> None:
    clock = Clock()
    b, changes = breaker(clock)
    for _ in range(4):
        call(b, ok=False)
    call(b, ok=True)  # a success resets the run
    for _ in range(4):
        call(b, ok=False)
    assert b.state is BreakerState.CLOSED
    call(b, ok=False)
    assert b.state is BreakerState.OPEN and changes == [BreakerState.OPEN]
    assert b.admit() is None
    assert 4.9 < b.retry_in() <= 5.0  # default probe delay


def test_half_the_calls_failing_over_twenty_opens_the_breaker() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    for i in range(19):
        call(b, ok=i % 2 == 0)  # 9 failures of 19, never two in a row
    assert b.state is BreakerState.CLOSED  # fewer than 20 calls: no verdict on the rate
    call(b, ok=False)  # 10 of 20
    assert b.state is BreakerState.OPEN


def test_the_failure_rate_is_taken_over_the_window_only() -> None:
    clock = Clock()
    b, _ = breaker(clock, window=30.0)
    for i in range(19):
        call(b, ok=i % 5 == 4)  # 16 failures in 19 calls, never 5 in a row
    assert b.state is BreakerState.CLOSED
    clock.advance(31)  # all of that is forgotten ...
    call(b, ok=True)  # ... so this 20th call finds 1 call in the window, not 16 failures
    assert b.state is BreakerState.CLOSED


def test_probes_one_at_a_time_and_closes_after_enough_successes() -> None:
    clock = Clock()
    b, changes = breaker(clock, probe_delay=5.0, probes=3)
    for _ in range(5):
        call(b, ok=False)
    clock.advance(4.9)
    assert b.state is BreakerState.OPEN and b.admit() is None
    clock.advance(0.2)
    assert b.state is BreakerState.HALF_OPEN
    probe = b.admit()
    assert probe is not None and probe.probe
    assert b.admit() is None  # only one probe in flight
    b.record(probe, ok=True)
    call(b, ok=True)
    assert b.state is BreakerState.HALF_OPEN
    call(b, ok=True)
    assert b.state is BreakerState.CLOSED
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]
    assert b.unavailable_for() is None


def test_a_failed_probe_reopens_for_another_delay() -> None:
    clock = Clock()
    b, _ = breaker(clock, probe_delay=5.0)
    for _ in range(5):
        call(b, ok=False)
    clock.advance(5)
    call(b, ok=False)
    assert b.state is BreakerState.OPEN and b.retry_in() == 5.0
    assert b.unavailable_for() == 5.0  # the outage is counted from the first opening
    assert b.opened == 2


def admit_all(b: CircuitBreaker, n: int) -> list[Ticket]:
    tickets = [b.admit() for _ in range(n)]
    assert all(tickets)
    return tickets  # type: ignore[return-value]


def test_failures_run_in_the_order_calls_were_sent_not_answered() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    # 24 calls sent at once, every third failing: never two failures in a row as sent ...
    sent = admit_all(b, 24)
    failing = sent[::3]
    # ... though the errors, answered at once, all come back before any success
    for ticket in failing:
        b.record(ticket, ok=False)
    for ticket in sent:
        if ticket not in failing:
            b.record(ticket, ok=True)
    assert b.state is BreakerState.CLOSED
    # and the other way round: the successes first, the failures (hung) time out after them
    sent = admit_all(b, 24)
    for ticket in sent:
        if ticket not in sent[1::3]:
            b.record(ticket, ok=True)
    for ticket in sent[1::3]:
        b.record(ticket, ok=False)
    assert b.state is BreakerState.CLOSED


def test_a_late_failure_joins_the_failures_sent_either_side_of_it() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    first, second, third, fourth, fifth = admit_all(b, 5)
    for ticket in (first, second, fourth, fifth):
        b.record(ticket, ok=False)
    assert b.state is BreakerState.CLOSED  # the third is still running: no run of five yet
    b.record(third, ok=False)
    assert b.state is BreakerState.OPEN


def test_a_dead_agency_opens_whatever_order_the_failures_come_back_in() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    sent = admit_all(b, 24)
    for count, ticket in enumerate(reversed(sent), start=1):
        b.record(ticket, ok=False)
        if count == 5:
            break
    assert b.state is BreakerState.OPEN


def test_calls_without_a_verdict_are_passed_over_by_a_run() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    sent = admit_all(b, 7)
    b.release(sent[2])  # the agency said "slow down"
    b.release(sent[4])  # cancelled
    for ticket in (sent[0], sent[1], sent[3], sent[5]):
        b.record(ticket, ok=False)
    assert b.state is BreakerState.CLOSED
    b.record(sent[6], ok=False)  # five failures in a row as sent, two calls passed over
    assert b.state is BreakerState.OPEN


def test_a_verdict_from_before_a_transition_does_not_count() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    slow = b.admit()  # a call started while closed ...
    assert slow is not None
    for _ in range(5):
        call(b, ok=False)
    clock.advance(5)
    assert b.state is BreakerState.HALF_OPEN
    b.record(slow, ok=True)  # ... ends after the breaker moved on: not a probe success
    probe = b.admit()
    assert probe is not None and probe.probe  # the probe slot is still free


def test_a_released_probe_frees_the_slot_without_a_verdict() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    for _ in range(5):
        call(b, ok=False)
    clock.advance(5)
    probe = b.admit()
    assert probe is not None
    b.release(probe)  # cancelled, or the agency said "slow down"
    assert b.state is BreakerState.HALF_OPEN
    assert b.admit() is not None


def budget(clock: Clock, min_per_second: float = 0.0) -> RetryBudget:
    return RetryBudget(BudgetConfig(ratio=0.2, window=10.0, min_per_second=min_per_second), clock)


def test_retries_are_held_to_a_fifth_of_first_attempts() -> None:
    clock = Clock()
    b = budget(clock)
    b.first_attempt(50)
    granted = sum(b.try_retry() for _ in range(30))
    assert granted == 10
    assert b.denied == 20


def test_the_budget_refills_as_the_window_slides() -> None:
    clock = Clock()
    b = budget(clock)
    b.first_attempt(10)
    assert b.try_retry() and b.try_retry()
    assert not b.try_retry()
    clock.advance(5)
    b.first_attempt(10)  # 20 firsts in the window, 2 retries: 2 more allowed
    assert b.try_retry() and b.try_retry()
    assert not b.try_retry()
    clock.advance(6)  # the first 10 firsts and their 2 retries have left the window
    assert not b.try_retry()  # 10 firsts, 2 retries: the ratio is spent
    clock.advance(10)
    b.first_attempt(5)
    assert b.try_retry()


def test_a_quiet_agency_still_gets_a_few_retries() -> None:
    clock = Clock()
    b = budget(clock, min_per_second=0.5)  # at least 5 over the 10 s window
    b.first_attempt(1)  # 0.2 of a retry: the ratio alone would never allow one
    assert sum(b.try_retry() for _ in range(10)) == 5
    assert b.wait_hint() > 0
    clock.advance(10.5)
    assert b.try_retry()


def test_the_floor_does_not_add_to_the_ratio_under_load() -> None:
    clock = Clock()
    b = budget(clock, min_per_second=1.0)  # floor 10 per window
    b.first_attempt(100)  # ratio: 20 per window
    assert sum(b.try_retry() for _ in range(50)) == 20


def test_in_a_total_outage_attempts_per_inquiry_stay_at_or_under_1_2() -> None:
    """Inquiries arrive at 20/s for a minute; every attempt fails and asks for retries."""
    clock = Clock()
    b = RetryBudget(BudgetConfig(), clock)  # defaults: 20%, 10 s, 1/s floor
    inquiries = attempts = 0
    for _ in range(60 * 20):
        b.first_attempt()
        inquiries += 1
        attempts += 1
        for _retry in range(3):  # up to 3 retries each, as the attempts setting allows
            if not b.try_retry():
                break
            attempts += 1
        clock.advance(0.05)
    assert attempts / inquiries <= 1.2
    assert attempts / inquiries > 1.1  # the budget is used, not just refused
