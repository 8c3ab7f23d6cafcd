"""What Lambda and Step Functions do with the roles they are given, so a role that lacks something fails offline
where it would fail -- or lose data -- in AWS.

Deploy time (CloudFormation would refuse the stack): Lambda and Step Functions must be able to assume their roles;
a state machine that logs to CloudWatch Logs needs the log-delivery permissions. Run time: a function whose
environment is under a customer managed key must decrypt it; a function's logs and traces, and the state
machine's traces, are lost without their permissions (the run goes on, so the world records the loss and the
tests refuse it).
"""

from __future__ import annotations

from collections.abc import Iterable

from distill_cli.access import Principal, Requirement
from distill_cli.offline.authorizer import Authorizer
from distill_cli.offline.resources import FunctionDef, StateMachineDef

# "IAM policies for logging to CloudWatch Logs" (Step Functions developer guide,
# https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy).
LOG_DELIVERY = ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups")  # fmt: skip
# Active tracing sends segments with the execution role (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html).
TRACING = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
SECURE = {"aws:SecureTransport": "true"}


class DeployRefused(RuntimeError):
    """CloudFormation would fail to create a resource; the message names what is missing."""


def check_deployable(authorizer: Authorizer, functions: Iterable[FunctionDef], machine: StateMachineDef) -> None:
    problems = [p for f in functions if (p := authorizer.trust_problem(f.role_arn, "lambda.amazonaws.com"))]
    # Step Functions assumes its role with the confused-deputy keys (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html).
    source = {"aws:SourceAccount": authorizer.where.account, "aws:SourceArn": machine.arn}
    if problem := authorizer.trust_problem(machine.role_arn, "states.amazonaws.com", source):
        problems.append(problem)
    if machine.logs_to:
        # Step Functions checks the role when the state machine is created with logging: "The state machine IAM
        # Role is not authorized to access the Log Destination".
        problems += _missing(authorizer, machine.role_arn, "states", LOG_DELIVERY, "*", "to deliver its logs")
    if problems:
        raise DeployRefused("; ".join(problems))


def environment_key_problem(authorizer: Authorizer, function: FunctionDef) -> tuple[str, str] | None:
    """A function whose environment is under a customer managed key starts only if its role may kms:Decrypt with
    it ("Lambda was unable to decrypt the environment variables because KMS access was denied",
    KMSAccessDeniedException; https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html)."""
    if not function.kms_key_arn:
        return None
    missing = _missing(authorizer, function.role_arn, function.name, ("kms:Decrypt",), function.kms_key_arn,
                       "to decrypt its environment")  # fmt: skip
    if not missing:
        return None
    return ("Lambda.KMSAccessDeniedException", "Lambda was unable to decrypt the environment variables because KMS "
            f"access was denied: {missing[0]}")  # fmt: skip


def function_telemetry_lost(authorizer: Authorizer, function: FunctionDef, region: str, account: str) -> list[str]:
    """What of a function's logs and traces its role would lose."""
    stream = f"arn:aws:logs:{region}:{account}:log-group:{function.log_group}:log-stream:offline"
    lost = _missing(authorizer, function.role_arn, function.name, ("logs:CreateLogStream", "logs:PutLogEvents"),
                    stream, "to write its logs")  # fmt: skip
    if function.traced:
        lost += _missing(authorizer, function.role_arn, function.name, TRACING, "*", "to send its traces")
    return lost


def machine_telemetry_lost(authorizer: Authorizer, machine: StateMachineDef) -> list[str]:
    if not machine.traced:
        return []
    return _missing(authorizer, machine.role_arn, "states", TRACING, "*", "to send the executions' traces")


def _missing(authorizer: Authorizer, role_arn: str, session: str, actions: Iterable[str], resource: str, why: str
             ) -> list[str]:  # fmt: skip
    principal = Principal(arn=role_arn, session_name=session)
    out = []
    for action in actions:
        decision = authorizer.require(principal, Requirement(action, resource, SECURE), why)
        if not decision.allowed:
            out.append(f"{principal.display_arn} may not {action} on {resource} ({why}): {decision.reason}")
    return out
