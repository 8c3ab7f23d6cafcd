"""An in-process Bedrock that behaves like the real one for this pipeline's calls.

Used by ``distill local-run`` and the tests. Requests are checked against botocore's model of the real API,
patterns and lengths included (distill_cli.offline.api_model); errors are ``ClientError``s with Bedrock's codes;
a job is refused when its service role could not do it (distill_cli.offline.bedrock.contracts); a customization
job walks InProgress through its phases to the outcome it was told to reach; provisioned throughput goes
Creating -> InService (or Failed), a deployment Creating -> Active (or Failed), and an update of a deployment
Updating -> UpdateCompleted (or UpdateFailed). bedrock-runtime's Converse answers as the served student, the
teacher or the evaluation's judge (.runtime). moto's own Bedrock cannot do this (see the toolchain notes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from distill_cli.offline.bedrock.contracts import Need
from distill_cli.offline.bedrock.jobs import FAILURE_MESSAGES, Job, JobsMixin, Outcome
from distill_cli.offline.bedrock.paging import PagingMixin
from distill_cli.offline.bedrock.runtime import SimulatedBedrockRuntime
from distill_cli.offline.bedrock.serving import (
    DEPLOYMENT_FAILURE,
    UPDATE_FAILURE,
    Deployment,
    ServingMixin,
    Throughput,
    Update,
)
from distill_cli.offline.simulated import SimulatedService

# (role ARN, what Bedrock will do with it, AssumeRole context) -> what is missing, or None.
RoleProblem = Callable[[str, list[Need], Mapping[str, str]], str | None]
# (what the caller must be allowed) -> what is missing, or None.
CallerProblem = Callable[[list[Need]], str | None]

__all__ = ["DEPLOYMENT_FAILURE", "FAILURE_MESSAGES", "UPDATE_FAILURE", "Deployment", "Job", "SimulatedBedrock",
           "SimulatedBedrockRuntime", "Throughput", "Update"]  # fmt: skip


class SimulatedBedrock(JobsMixin, PagingMixin, ServingMixin, SimulatedService):
    """A fake ``bedrock`` client. job_outcome: how the next jobs end; job_checks: after how many status checks, or
    job_seconds: after how long on the world's clock (then the number of checks does not matter).

    For the evaluation (read by :class:`SimulatedBedrockRuntime`): student_quality, the student's share of the
    teacher's score the judge gives (per metric, over the prompts); judge_malformed, how many of the first judge
    replies are not JSON; student_latency_ms, teacher_latency_ms, judge_latency_ms, each answer's latencyMs
    (+-15% by prompt). update_fails: an UpdateCustomModelDeployment ends UpdateFailed (it takes deployment_checks
    looks either way)."""

    service = "bedrock"

    def __init__(self, *, region: str = "us-east-1", account: str = "123456789012", job_outcome: Outcome = "completed",
                 job_checks: int = 3, job_seconds: float | None = None, throughput_fails: bool = False, throughput_checks: int = 2,
                 deployment_fails: bool = False, deployment_checks: int = 2, s3: Any = None,
                 now: Callable[[], float] = time.time, bucket_keys: Mapping[str, str] | None = None,
                 role_problem: RoleProblem | None = None, caller_problem: CallerProblem | None = None,
                 student_quality: float = 0.95, judge_malformed: int = 0, student_latency_ms: int = 120,
                 teacher_latency_ms: int = 650, judge_latency_ms: int = 900,
                 update_fails: bool = False, max_running_jobs: int | None = None) -> None:  # fmt: skip
        super().__init__()
        if student_quality <= 0 or judge_malformed < 0:
            raise ValueError("student_quality must be positive and judge_malformed not negative")
        self.region, self.account = region, account
        self.job_outcome, self.job_checks, self.job_seconds = job_outcome, job_checks, job_seconds
        self.throughput_fails, self.throughput_checks = throughput_fails, throughput_checks
        self.deployment_fails, self.deployment_checks = deployment_fails, deployment_checks
        self.student_quality, self.judge_malformed = student_quality, judge_malformed
        self.student_latency_ms, self.teacher_latency_ms = student_latency_ms, teacher_latency_ms
        self.judge_latency_ms, self.update_fails = judge_latency_ms, update_fails
        self.s3 = s3  # when set, a completed job writes its metrics under the output URI, like Bedrock does
        self._now = now
        self.bucket_keys = dict(bucket_keys or {})
        self.role_problem = role_problem
        self.caller_problem = caller_problem
        # Set by the offline world: run something later on its clock; send a job state-change event.
        self.later: Callable[[float, Callable[[], None]], None] | None = None
        self.on_job_event: Callable[[str, dict[str, Any]], None] | None = None
        self.jobs: dict[str, Job] = {}
        # The account's concurrent-jobs quota (None: unlimited) and the most jobs that ran at once.
        self.max_running_jobs = max_running_jobs
        self.peak_running_jobs = 0
        self.throughputs: dict[str, Throughput] = {}
        self.deployments: dict[str, Deployment] = {}

    @staticmethod
    def _time(seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)
