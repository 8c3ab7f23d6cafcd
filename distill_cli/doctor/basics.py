"""The words the doctor's plan speaks in: the roles it checks, one permission a role needs, where the pipeline is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distill_cli.access import Requirement

# Handler modules of the functions (stacks/constructs/functions.py HANDLERS), the Bedrock service role and the
# state machine's role: every role a run uses.
HANDLER_MODULES = (
    "check_run_settings", "prepare_dataset", "start_job", "await_job", "provision_throughput", "check_throughput",
    "deploy_on_demand", "check_deployment", "try_model", "finish_run", "start_from_drop", "notify_failure",
    "job_state_changed", "preview_invocation_logs", "prepare_evaluation", "evaluate_batch", "decide_verdict",
    "promote_student", "remove_serving", "take_job_slot", "back_off_job_slot", "release_job_slot", "janitor",
)  # fmt: skip
BEDROCK_ROLE = "bedrock_service_role"
STATE_MACHINE_ROLE = "state_machine"
ROLES = (*HANDLER_MODULES, BEDROCK_ROLE, STATE_MACHINE_ROLE)


@dataclass(frozen=True)
class Call:
    service: str  # boto3's name
    operation: str  # the API's name
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Need:
    """One permission a role needs: the requirement to simulate and why (the call, or what a service does)."""

    requirement: Requirement
    why: str


@dataclass(frozen=True)
class Account:
    region: str
    account: str
    partition: str = "aws"

    @classmethod
    def of_arn(cls, arn: str) -> Account:
        """The Region, account and partition an ARN names (``arn:PARTITION:SERVICE:REGION:ACCOUNT:...``)."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or not parts[3] or not parts[4]:
            raise ValueError(f"not a regional ARN: {arn!r}")
        return cls(region=parts[3], account=parts[4], partition=parts[1])

    def base_context(self) -> dict[str, str]:
        """What every request a service makes with a role carries (as the offline world evaluates it)."""
        return {"aws:SecureTransport": "true", "aws:RequestedRegion": self.region}


@dataclass(frozen=True)
class FunctionFacts:
    """What Lambda does with a function's role depends on: its ARN (the state machine invokes it), its log group,
    active tracing, and the KMS key of its environment."""

    arn: str
    log_group: str
    traced: bool = False
    environment_key: str = ""


@dataclass(frozen=True)
class MachineFacts:
    """The state machine: its ARN, definition (which functions it invokes), logging and tracing."""

    arn: str
    definition: str
    logs: bool = False
    traced: bool = False
