"""The offline world's discrete-event scheduler and its clock."""

from __future__ import annotations

import time
from typing import Any

import pytest

from distill_cli.offline.clock import DriveTimeout, Scheduler, Signal, Wait

T0 = 1_000.0


def test_given_timers_when_run_then_they_fire_by_time_and_then_by_scheduling_order() -> None:
    clock = Scheduler(start=T0)
    fired: list[tuple[str, float]] = []
    for label, at in (("a", 5), ("b", 3), ("c", 5), ("d", 3), ("e", 0)):
        clock.call_at(T0 + at, lambda label=label: fired.append((label, clock.now() - T0)))

    clock.run_idle()

    assert fired == [("e", 0), ("b", 3), ("d", 3), ("a", 5), ("c", 5)]


def test_given_timers_when_the_clock_advances_then_only_those_due_run_and_the_clock_lands_on_the_target() -> None:
    clock = Scheduler(start=T0)
    fired: list[str] = []
    clock.call_later(10, lambda: fired.append("at 10"))
    clock.call_later(10.5, lambda: fired.append("at 10.5"))

    clock.advance(10)

    assert fired == ["at 10"]
    assert clock.now() == T0 + 10
    clock.advance(0.4)
    assert (fired, clock.now()) == (["at 10"], T0 + 10.4)
    clock.advance(0.1)
    assert fired == ["at 10", "at 10.5"]


def test_given_nothing_scheduled_when_run_until_waits_for_a_condition_then_drive_timeout() -> None:
    clock = Scheduler(start=T0)

    with pytest.raises(DriveTimeout, match="nothing left to run"):
        clock.run_until(lambda: False)


def test_given_a_timer_past_the_limit_when_run_until_then_drive_timeout_and_the_timer_does_not_run() -> None:
    clock = Scheduler(start=T0)
    fired: list[int] = []
    clock.call_later(100, lambda: fired.append(1))

    with pytest.raises(DriveTimeout):
        clock.run_until(lambda: False, limit_seconds=50)

    assert fired == []
    assert clock.now() == T0


def test_given_processes_when_they_sleep_then_they_wake_in_virtual_time_without_real_waiting() -> None:
    clock = Scheduler(start=T0)
    log: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float) -> Any:
        yield clock.sleep(seconds)
        log.append((name, clock.now() - T0))
        return name

    slow = clock.spawn(sleeper("week", 7 * 86_400))
    fast = clock.spawn(sleeper("second", 1))
    began = time.monotonic()

    clock.run_until(lambda: slow.finished and fast.finished)

    assert time.monotonic() - began < 1
    assert log == [("second", 1), ("week", 7 * 86_400)]
    assert slow.done.value == (True, "week")


def test_given_a_wait_on_a_signal_with_a_timeout_when_either_comes_first_then_the_process_learns_which() -> None:
    clock = Scheduler(start=T0)
    answers: list[tuple[bool, Any, float]] = []
    fired, silent = Signal(), Signal()

    def waiter(signal: Signal) -> Any:
        ok, value = yield Wait(signal, 30)
        answers.append((ok, value, clock.now() - T0))

    clock.spawn(waiter(fired))
    clock.spawn(waiter(silent))
    clock.call_later(5, lambda: fired.fire("hello"))
    clock.run_idle()

    assert answers == [(True, "hello", 5), (False, None, 30)]


def test_given_a_waiting_process_when_interrupted_then_the_error_is_thrown_where_it_waits() -> None:
    clock = Scheduler(start=T0)
    seen: list[str] = []

    def patient() -> Any:
        try:
            yield clock.sleep(1000)
        except KeyError as error:
            seen.append(str(error))
            raise

    task = clock.spawn(patient())
    clock.advance(10)
    clock.interrupt(task, KeyError("stop"))
    clock.run_idle()

    assert seen == ["'stop'"]
    assert task.finished and task.done.value[0] is False


def test_given_a_callback_that_drives_the_world_when_run_then_reentry_is_refused() -> None:
    clock = Scheduler(start=T0)
    clock.call_later(1, lambda: clock.advance(1))

    with pytest.raises(RuntimeError, match="already being driven"):
        clock.run_idle()


def test_given_the_real_clock_when_a_process_sleeps_then_real_time_passes() -> None:
    clock = Scheduler(real_time=True)

    def nap() -> Any:
        yield clock.sleep(0.2)

    task = clock.spawn(nap())
    began = time.monotonic()

    clock.run_until(lambda: task.finished, limit_seconds=5)

    assert 0.19 <= time.monotonic() - began < 2
