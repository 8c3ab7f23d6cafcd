"""What AWS services do with the roles they are given during a run, as the offline world enforces it: Bedrock with
its service role (distill_cli/offline/bedrock/contracts.py), Lambda with each function's role (logs, traces, the
environment's key), Step Functions with the state machine's role (invoke the functions, deliver logs, traces), and
who must be able to assume each role (its trust policy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from distill.run_request import ResolvedRun
from distill_cli.access import Requirement
from distill_cli.doctor.basics import (
    BEDROCK_ROLE,
    STATE_MACHINE_ROLE,
    Account,
    FunctionFacts,
    MachineFacts,
    Need,
)
from distill_cli.offline.bedrock import contracts

# "IAM policies for logging to CloudWatch Logs" (Step Functions developer guide, cw-logs.html#cloudwatch-iam-policy).
LOG_DELIVERY = ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups")  # fmt: skip
# Active tracing sends segments with the execution role (Lambda developer guide, services-xray.html).
TRACING = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
SAMPLE_STREAM = "doctor-check"


def _needs(account: Account, items: Sequence[tuple[str, str, str]]) -> list[Need]:
    """(action, resource, why) -> Needs with the context a service's request carries."""
    return [Need(Requirement(action, resource, account.base_context()), why) for action, resource, why in items]


def from_contracts(account: Account, needs: Sequence[contracts.Need]) -> list[Need]:
    return [Need(Requirement(n.action, n.resource, {**account.base_context(), **n.context}), n.why) for n in needs]


def bedrock_role_needs(account: Account, runs: Sequence[ResolvedRun], bucket_keys: Mapping[str, str]) -> list[Need]:
    """What Bedrock does with the service role while it runs each run's job (contracts: S3, bucket keys,
    teacher); a run from invocation logs reads the logs instead of a dataset."""
    found: list[contracts.Need] = []
    for run in runs:
        training = run.invocation_logs.s3_uri if run.invocation_logs else run.dataset_uri
        found += [*contracts.s3_needs(training, run.output_uri),
                  *contracts.bucket_key_needs(bucket_keys, training, run.output_uri),
                  *contracts.teacher_needs(run.teacher_model_id, account.region, account.account)]  # fmt: skip
    return from_contracts(account, found)


def model_key_needs(account: Account, module: str, key: str) -> list[Need]:
    """With customModelKmsKeyId: whoever customizes, serves or invokes the model needs the key (contracts)."""
    if not key:
        return []
    if module == "start_job":
        return from_contracts(account, contracts.model_key_needs_for_customizer(key, account.region))
    if module in ("provision_throughput", "deploy_on_demand", "try_model"):
        return from_contracts(account, contracts.model_key_needs_for_user(key, account.region))
    return []


def function_needs(account: Account, function: FunctionFacts) -> list[Need]:
    """Lambda, with the function's role: write its logs, send its traces, decrypt its environment."""
    a = account
    stream = f"arn:{a.partition}:logs:{a.region}:{a.account}:log-group:{function.log_group}:log-stream:{SAMPLE_STREAM}"
    items = [(action, stream, "Lambda writes the function's logs") for action in
             ("logs:CreateLogStream", "logs:PutLogEvents")]  # fmt: skip
    if function.traced:
        items += [(action, "*", "Lambda sends the function's traces") for action in TRACING]
    if function.environment_key:
        items.append(("kms:Decrypt", function.environment_key, "Lambda decrypts the function's environment"))
    return _needs(account, items)


def invoked(machine: MachineFacts, functions: Mapping[str, FunctionFacts]) -> list[str]:
    """The handler modules whose functions the state machine's definition invokes."""
    return [module for module, f in functions.items()
            if f.arn in machine.definition or f.arn.rsplit(":", 1)[-1] in machine.definition]  # fmt: skip


def machine_needs(account: Account, machine: MachineFacts, functions: Mapping[str, FunctionFacts]) -> list[Need]:
    """Step Functions, with the state machine's role: invoke the functions, deliver the logs, send traces."""
    items = [("lambda:InvokeFunction", functions[m].arn, f"Step Functions invokes {m}")
             for m in invoked(machine, functions)]  # fmt: skip
    if machine.logs:
        items += [(action, "*", "Step Functions delivers the executions' logs") for action in LOG_DELIVERY]
    if machine.traced:
        items += [(action, "*", "Step Functions sends the executions' traces") for action in TRACING]
    return _needs(account, items)


def trust(role: str, account: Account, machine_arn: str, job_arn: str) -> tuple[str, dict[str, str]]:
    """(the service principal that assumes the role of ``role``, the context its AssumeRole carries)."""
    if role == BEDROCK_ROLE:
        return "bedrock.amazonaws.com", contracts.trust_context(account.account, job_arn)
    if role == STATE_MACHINE_ROLE:
        # Step Functions sends the confused-deputy keys (step-functions/latest/dg/procedure-create-iam-role.html).
        return "states.amazonaws.com", {"aws:SourceAccount": account.account, "aws:SourceArn": machine_arn}
    return "lambda.amazonaws.com", {}
