"""Status handling and the wait between two checks of something Bedrock is still doing.

The serving loops' wait (provisioned throughput, a deployment) grows from ``first_wait_seconds`` by
``backoff_rate`` up to ``max_wait_seconds``: what is quick is noticed quickly, and a slow one adds few events to
the execution history. A job's end comes by event instead (distill.job_waits).
"""

from __future__ import annotations

from enum import StrEnum

from distill.settings import PollingPolicy


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
