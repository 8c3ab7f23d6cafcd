"""Time for the offline world: a discrete-event scheduler on a clock of its own.

Everything that takes time offline runs as a *process* (a generator) on one :class:`Scheduler`: executions
of the state machine, asynchronous Lambda invocations, the simulated Bedrock job. A process yields what it
waits for -- :meth:`Scheduler.sleep` or a :class:`Signal` (optionally with a timeout) -- and the scheduler
resumes it when that happens. On the virtual clock nothing sleeps: when no process can run, time jumps to the
next timer, so a 7-day job runs through the real state machine in seconds. On the real clock
(``real_time=True``) the scheduler sleeps until the next timer instead, which shows real waiting works.

Single-threaded by design: a handler that starts an execution only schedules it; the caller's thread drives
the world with :meth:`Scheduler.run_until` (tests, ``distill local-run``) or :meth:`Scheduler.advance` (what
``distill.clock.sleep`` does offline, so a CLI polling loop moves time forward).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

Process = Generator[Any, Any, Any]


class Interrupted(Exception):
    """Thrown into a process that was stopped (e.g. StopExecution) at the point where it waited."""


class DriveTimeout(RuntimeError):
    """run_until gave up: the condition did not come true within the allowed (virtual) time."""


@dataclass
class Signal:
    """A one-shot event a process can wait for; fired with a value once."""

    name: str = ""
    fired: bool = False
    value: Any = None
    _waiters: list[Callable[[Any], None]] = field(default_factory=list)

    def fire(self, value: Any = None) -> bool:
        if self.fired:
            return False
        self.fired, self.value = True, value
        waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake(value)
        return True

    def on_fire(self, callback: Callable[[Any], None]) -> None:
        if self.fired:
            callback(self.value)
        else:
            self._waiters.append(callback)


@dataclass(frozen=True)
class Wait:
    """What a process yields: a signal and an optional timeout in seconds. Resumes with
    ``(True, value)`` when the signal fired or ``(False, None)`` when the timeout came first."""

    signal: Signal | None
    timeout: float | None = None


@dataclass
class Task:
    """A running process; ``done`` fires with ``(ok, value_or_exception)`` when it ends."""

    name: str
    generator: Process
    done: Signal = field(default_factory=Signal)
    _generation: int = 0  # bumped at every resume: a stale wake-up of an earlier wait is ignored
    finished: bool = False


class Scheduler:
    def __init__(self, *, start: float | None = None, real_time: bool = False) -> None:
        self.real_time = real_time
        self._virtual_now = time.time() if start is None else start
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._driving = False
        self.tasks: list[Task] = []

    @property
    def driving(self) -> bool:
        return self._driving

    # --- time ---------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() if self.real_time else self._virtual_now

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), callback))

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.call_at(self.now() + max(0.0, delay), callback)

    # --- processes ----------------------------------------------------------------------------------
    def spawn(self, generator: Process, name: str = "", delay: float = 0.0) -> Task:
        task = Task(name, generator)
        self.tasks.append(task)
        self.call_later(delay, lambda: self._step(task, None, None))
        return task

    def sleep(self, seconds: float) -> Wait:
        """``yield scheduler.sleep(s)`` inside a process."""
        return Wait(None, max(0.0, float(seconds)))

    def interrupt(self, task: Task, error: BaseException) -> None:
        """Throw ``error`` into ``task`` where it waits (now, before anything else it waits for)."""
        if task.finished:
            return
        task._generation += 1
        self.call_later(0, lambda: self._step(task, None, error))

    def _step(self, task: Task, value: Any, error: BaseException | None) -> None:
        if task.finished:
            return
        task._generation += 1
        try:
            waited = task.generator.throw(error) if error is not None else task.generator.send(value)
        except StopIteration as stop:
            task.finished = True
            task.done.fire((True, stop.value))
            return
        except BaseException as failure:
            task.finished = True
            task.done.fire((False, failure))
            return
        self._park(task, waited)

    def _park(self, task: Task, waited: Any) -> None:
        if not isinstance(waited, Wait):
            raise TypeError(f"process {task.name!r} yielded {waited!r}; yield a clock.Wait")
        generation = task._generation

        def resume(result: tuple[bool, Any]) -> None:
            if task._generation == generation and not task.finished:
                self._step(task, result, None)

        if waited.signal is not None:
            waited.signal.on_fire(lambda value: self.call_later(0, lambda: resume((True, value))))
        if waited.timeout is not None:
            self.call_later(waited.timeout, lambda: resume((False, None)))

    # --- driving --------------------------------------------------------------------------------------
    def pending(self) -> bool:
        return bool(self._timers)

    def next_time(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def run_one(self) -> bool:
        """Run the earliest timer (moving the clock to it); False when nothing is scheduled."""
        if not self._timers:
            return False
        when, _, callback = heapq.heappop(self._timers)
        if self.real_time:
            delay = when - time.time()
            if delay > 0:
                time.sleep(delay)
        elif when > self._virtual_now:
            self._virtual_now = when
        callback()
        return True

    def run_until(self, done: Callable[[], bool], *, limit_seconds: float = 400 * 86_400) -> None:
        """Run processes until ``done()`` is true. Raises DriveTimeout when (virtual) time passes the limit
        or nothing is left to run."""
        self._enter()
        try:
            deadline = self.now() + limit_seconds
            while not done():
                upcoming = self.next_time()
                if upcoming is None:
                    raise DriveTimeout("nothing left to run, and the awaited condition never came true")
                if upcoming > deadline:
                    raise DriveTimeout(f"the awaited condition did not come true within {limit_seconds:.0f}s")
                self.run_one()
        finally:
            self._driving = False

    def advance(self, seconds: float) -> None:
        """Run everything due within the next ``seconds`` and leave the clock there."""
        self._enter()
        try:
            target = self.now() + max(0.0, seconds)
            while self._timers and self._timers[0][0] <= target:
                self.run_one()
            if self.real_time:
                remaining = target - time.time()
                if remaining > 0:
                    time.sleep(remaining)
            else:
                self._virtual_now = max(self._virtual_now, target)
        finally:
            self._driving = False

    def run_idle(self, *, limit_seconds: float = 400 * 86_400) -> None:
        """Run until nothing is scheduled any more."""
        self.run_until(lambda: not self._timers, limit_seconds=limit_seconds)

    def _enter(self) -> None:
        if self._driving:
            raise RuntimeError("the offline world is already being driven: a process must yield, not sleep")
        self._driving = True
