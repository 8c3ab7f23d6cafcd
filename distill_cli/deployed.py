"""Finding the deployed pipeline: its bucket and state machine come from the stacks' outputs.

``<prefix>Data`` outputs ``BucketName`` (and ``DropPrefix``), ``<prefix>Pipeline`` outputs ``StateMachineArn``;
``--bucket`` / ``--state-machine`` skip the look-up. Anything that goes wrong on the way (no credentials, no
region, no such stack, a stack without its outputs) is a :class:`NotDeployed` with a sentence for the user.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from distill import aws

DEFAULT_PREFIX = "Distill"
DEFAULT_DROP_PREFIX = "incoming/"


class NotDeployed(Exception):
    """The pipeline could not be found (the message says why and what to pass instead)."""


@dataclass(frozen=True)
class Deployment:
    bucket: str
    state_machine_arn: str
    drop_prefix: str = DEFAULT_DROP_PREFIX


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which pipeline (found from the deployed stacks' outputs by default)")
    group.add_argument("--stack-prefix", default=DEFAULT_PREFIX, help="stackPrefix from cdk.json (default: Distill)")
    group.add_argument("--bucket", help="the data bucket, instead of looking it up")
    group.add_argument("--state-machine", help="the state machine ARN, instead of looking it up")


def aws_error(error: BaseException) -> str:
    """A botocore error as one readable sentence (``Code: message`` for a service error)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        details = response["Error"]
        code, message = details.get("Code", ""), details.get("Message", "")
        return f"{code}: {message}" if code and message else code or message or str(error)
    return str(error) or type(error).__name__


def _outputs(stack: str, option: str) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in aws_error(error):
            raise NotDeployed(
                f"stack {stack} not found in this account and region: deploy the pipeline (make deploy), "
                f"name its stacks with --stack-prefix, or pass {option}"
            ) from None
        raise NotDeployed(f"cannot read stack {stack} ({aws_error(error)}); or pass {option}") from None
    except BotoCoreError as error:  # no credentials, no region, no network
        raise NotDeployed(f"cannot read stack {stack} ({aws_error(error)}); or pass {option}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in answer.get("Outputs", [])}
    outputs["_status"] = str(answer.get("StackStatus", ""))
    return outputs


def _output(outputs: dict[str, str], stack: str, key: str, option: str) -> str:
    if not outputs.get(key):
        raise NotDeployed(
            f"stack {stack} ({outputs.get('_status') or 'status unknown'}) has no output {key}: "
            f"finish deploying it (make deploy) or pass {option}"
        )
    return outputs[key]


def _drop_prefix(outputs: dict[str, str], bucket: str) -> str:
    """The key prefix of the ``DropPrefix`` output (``s3://bucket/incoming/``), else ``incoming/``."""
    value = outputs.get("DropPrefix", "")
    head = f"s3://{bucket}/"
    if value.startswith(head) and len(value) > len(head):
        prefix = value[len(head) :]
        return prefix if prefix.endswith("/") else prefix + "/"
    return DEFAULT_DROP_PREFIX


def find(args: argparse.Namespace, *, need_bucket: bool = True) -> Deployment:
    """The pipeline named by the options, or by the outputs of ``<prefix>Data`` and ``<prefix>Pipeline``.

    ``need_bucket=False`` looks up only the state machine (``bucket`` is then empty unless given).
    Raises :class:`NotDeployed` with a message for the user.
    """
    prefix = getattr(args, "stack_prefix", None) or DEFAULT_PREFIX
    bucket, machine = getattr(args, "bucket", None) or "", getattr(args, "state_machine", None) or ""
    drop_prefix = DEFAULT_DROP_PREFIX
    if not machine:
        stack = f"{prefix}Pipeline"
        machine = _output(_outputs(stack, "--state-machine"), stack, "StateMachineArn", "--state-machine")
    if need_bucket and not bucket:
        stack = f"{prefix}Data"
        outputs = _outputs(stack, "--bucket")
        bucket = _output(outputs, stack, "BucketName", "--bucket")
        drop_prefix = _drop_prefix(outputs, bucket)
    return Deployment(bucket=bucket, state_machine_arn=machine, drop_prefix=drop_prefix)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution ``name`` of a standard state machine."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


class NoRuns(Exception):
    """The pipeline has no run yet."""


def execution_of(args: argparse.Namespace) -> str:
    """The execution ARN ``args.execution`` names: as given, a bare name under the pipeline's state machine, or
    (none given) the newest run. Raises :class:`NotDeployed` or :class:`NoRuns`."""
    given = getattr(args, "execution", None) or ""
    if given.startswith("arn:"):
        return str(given)
    machine = find(args, need_bucket=False).state_machine_arn
    if given:
        return execution_arn(machine, given)
    newest = aws.client("stepfunctions").list_executions(stateMachineArn=machine, maxResults=1)["executions"]
    if not newest:
        raise NoRuns(f"no runs yet on {machine}")
    return str(newest[0]["executionArn"])
