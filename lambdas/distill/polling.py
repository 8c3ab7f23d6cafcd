"""Status handling and the wait between two checks of something Bedrock is still doing.

The wait grows from ``first_wait_seconds`` by ``backoff_rate`` up to ``max_wait_seconds``: a short job is
noticed quickly, and a job that runs for days adds few events to the execution history (Standard workflows
stop at 25,000 events).
"""

from __future__ import annotations

from enum import StrEnum

from distill.settings import PollingPolicy

# Events one turn of a wait/check/choice loop adds to an execution's history:
# Wait entered+exited (2), Lambda task entered, scheduled, started, succeeded, exited (5), Choice (2).
EVENTS_PER_POLL = 9
HISTORY_LIMIT = 25_000


class Phase(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


# GetModelCustomizationJob status values.
JOB_PHASES = {
    "InProgress": Phase.RUNNING,
    "Stopping": Phase.RUNNING,
    "Completed": Phase.SUCCEEDED,
    "Failed": Phase.FAILED,
    "Stopped": Phase.FAILED,
}
# GetProvisionedModelThroughput status values.
THROUGHPUT_PHASES = {
    "Creating": Phase.RUNNING,
    "Updating": Phase.RUNNING,
    "InService": Phase.SUCCEEDED,
    "Failed": Phase.FAILED,
}
# GetCustomModelDeployment status values.
DEPLOYMENT_PHASES = {
    "Creating": Phase.RUNNING,
    "Active": Phase.SUCCEEDED,
    "Failed": Phase.FAILED,
}


def job_phase(status: str) -> Phase:
    return JOB_PHASES.get(status, Phase.UNKNOWN)


def throughput_phase(status: str) -> Phase:
    return THROUGHPUT_PHASES.get(status, Phase.UNKNOWN)


def deployment_phase(status: str) -> Phase:
    return DEPLOYMENT_PHASES.get(status, Phase.UNKNOWN)


def next_wait_seconds(checks_done: int, policy: PollingPolicy) -> int:
    """Seconds to wait before check number ``checks_done + 1``."""
    # Cap the exponent so a long job cannot overflow the float before min() applies.
    grown = policy.first_wait_seconds * policy.backoff_rate ** min(checks_done, 64)
    return int(min(policy.max_wait_seconds, round(grown)))


def checks_within(seconds: float, policy: PollingPolicy) -> int:
    """How many checks the loop makes while a job runs for ``seconds`` (the last one sees it end)."""
    elapsed, checks = 0.0, 0
    while elapsed < seconds:
        elapsed += next_wait_seconds(checks, policy)
        checks += 1
    return checks


def history_events_for(seconds: float, policy: PollingPolicy, fixed_events: int = 60) -> int:
    """Estimated history size of an execution whose job runs ``seconds``; ``fixed_events`` covers the
    states outside the loop."""
    return fixed_events + EVENTS_PER_POLL * checks_within(seconds, policy)
