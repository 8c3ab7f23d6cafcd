"""Retry and Catch: which retrier or catcher an error meets, and how long a retrier waits.

A retrier applies while its attempts last (MaxAttempts, default 3); its wait is IntervalSeconds (default 1) times
BackoffRate (default 2.0) to the power of the attempts so far, capped by MaxDelaySeconds, and with
JitterStrategy FULL a uniform draw between 0 and that. The first retrier or catcher whose ErrorEquals matches is
the one that applies. https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from distill_cli.offline.asl import errors as E
from distill_cli.offline.asl.errors import StatesError


def retry_delay(retriers: Sequence[Mapping[str, Any]], attempts: list[int], failure: StatesError,
                rng: random.Random) -> float | None:  # fmt: skip
    """The wait before the next attempt, counting it in ``attempts``; None when no retrier applies any more."""
    index = next((i for i, r in enumerate(retriers) if E.matches(r["ErrorEquals"], failure.error)), None)
    if index is None or attempts[index] >= retriers[index].get("MaxAttempts", 3):
        return None
    retrier = retriers[index]
    delay = float(retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempts[index])
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy") == "FULL":
        delay = rng.uniform(0, delay)
    attempts[index] += 1
    return delay


def catcher(state: Mapping[str, Any], failure: StatesError) -> Mapping[str, Any] | None:
    """The state's first catcher that matches ``failure``."""
    return next((c for c in state.get("Catch", []) if E.matches(c["ErrorEquals"], failure.error)), None)
