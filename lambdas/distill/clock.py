"""The time the pipeline reads and the waits its CLI makes, replaceable as one.

In AWS this is the system clock. The offline world runs on a virtual clock (a 7-day job in seconds) and
installs it here with :func:`use`, so a handler's timestamps and a CLI's polling interval follow that clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_now: Callable[[], float] = time.time
_sleep: Callable[[float], None] = time.sleep


def now() -> float:
    """Seconds since the epoch."""
    return _now()


def sleep(seconds: float) -> None:
    _sleep(seconds)


@contextmanager
def use(now_fn: Callable[[], float], sleep_fn: Callable[[float], None]) -> Iterator[None]:
    global _now, _sleep
    saved = _now, _sleep
    _now, _sleep = now_fn, sleep_fn
    try:
        yield
    finally:
        _now, _sleep = saved
