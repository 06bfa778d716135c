"""CircuitBreaker state machine, driven by a hand-advanced clock (no sleeping)."""

from __future__ import annotations

import threading

import pytest

from assistant.errors import ConfigError
from assistant.generation.breaker import CircuitBreaker


class Clock:
    """A clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tripped(threshold: int = 3, reset: float = 30.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    breaker = CircuitBreaker(threshold, reset, clock=clock)
    for _ in range(threshold):
        assert breaker.acquire()
        breaker.record_failure()
    return breaker, clock


def test_opens_after_threshold_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(3, 30, clock=Clock())
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()  # resets the run of failures
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed" and breaker.acquire()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.acquire()


def test_open_refuses_until_cool_down_then_allows_one_trial() -> None:
    breaker, clock = tripped(reset=30)
    clock.now += 29.9
    assert not breaker.acquire()
    assert breaker.retry_in_s() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.acquire()  # the trial
    assert not breaker.acquire()  # nobody else while the trial is out


def test_trial_success_closes_and_trial_failure_reopens_with_a_new_timer() -> None:
    breaker, clock = tripped()
    clock.now += 30
    assert breaker.acquire()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.retry_in_s() == 0

    breaker, clock = tripped()
    clock.now += 30
    assert breaker.acquire()
    breaker.record_failure()  # one failed trial is enough to reopen
    assert breaker.state == "open" and breaker.retry_in_s() == pytest.approx(30)


def test_a_trial_that_never_reports_does_not_wedge_the_breaker() -> None:
    breaker, clock = tripped(reset=10)
    clock.now += 10
    assert breaker.acquire()
    clock.now += 5
    assert not breaker.acquire()
    clock.now += 5
    assert breaker.acquire()  # another cool-down later, a new trial


def test_release_frees_the_trial_slot_without_changing_state() -> None:
    breaker, clock = tripped()
    clock.now += 30
    assert breaker.acquire()
    breaker.release()
    assert breaker.state == "half_open" and breaker.acquire()


def test_only_one_of_many_threads_gets_the_half_open_trial() -> None:
    breaker, clock = tripped()
    clock.now += 30
    barrier = threading.Barrier(16)
    granted: list[bool] = []

    def worker() -> None:
        barrier.wait()
        granted.append(breaker.acquire())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert sorted(granted) == [False] * 15 + [True]


def test_concurrent_failures_are_all_counted() -> None:
    breaker = CircuitBreaker(800, 30, clock=Clock())

    def fail_100() -> None:
        for _ in range(100):
            breaker.record_failure()

    threads = [threading.Thread(target=fail_100) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert breaker.state == "open"


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"failure_threshold": 0}, "failure_threshold must be >= 1, got 0"),
        ({"reset_after_s": -1}, "reset_after_s must be >= 0, got -1"),
    ],
)
def test_bad_settings_name_the_value(kw: dict[str, float], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        CircuitBreaker(**kw)  # type: ignore[arg-type]
