"""Errors as the Amazon States Language names them, and the rules for matching them in Retry and Catch.

https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
"""

from __future__ import annotations

from collections.abc import Sequence

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
DATA_LIMIT = "States.DataLimitExceeded"
NO_CHOICE = "States.NoChoiceMatched"
RESULT_PATH = "States.ResultPathMatchFailure"
INTRINSIC = "States.IntrinsicFailure"
# "States.ALL ... can't catch the States.DataLimitExceeded terminal error or Runtime error types."
NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT})


class StatesError(Exception):
    """A state failed with ``error`` (its name) and ``cause`` (text)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class DefinitionError(ValueError):
    """The definition uses something this interpreter does not implement: refuse rather than guess."""


def matches(error_equals: Sequence[str], error: str) -> bool:
    """Whether a retrier's or catcher's ErrorEquals covers ``error``."""
    if error == RUNTIME:  # "A States.Runtime error is not retriable, and will always cause the execution to fail."
        return False
    if error in error_equals:
        return True
    if ALL in error_equals:
        return error not in NOT_MATCHED_BY_ALL
    # States.TaskFailed "matches any known error except States.Timeout" (the docs' wording); keep the terminal
    # errors out of it as well.
    if TASK_FAILED in error_equals:
        return error != TIMEOUT and error not in NOT_MATCHED_BY_ALL
    return False
