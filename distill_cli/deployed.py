"""Finding the deployed pipeline: its bucket and state machine come from the stacks' outputs."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from distill import aws

DEFAULT_PREFIX = "Distill"


@dataclass(frozen=True)
class Deployment:
    bucket: str
    state_machine_arn: str
    drop_prefix: str = "incoming/"


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which pipeline (found from the deployed stacks' outputs by default)")
    group.add_argument("--stack-prefix", default=DEFAULT_PREFIX, help="stackPrefix from cdk.json (default: Distill)")
    group.add_argument("--bucket", help="the data bucket, instead of looking it up")
    group.add_argument("--state-machine", help="the state machine ARN, instead of looking it up")


def _outputs(stack: str) -> dict[str, str]:
    answer = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in answer.get("Outputs", [])}


def find(args: argparse.Namespace) -> Deployment:
    """The pipeline named by the options, or by the outputs of ``<prefix>Data`` and ``<prefix>Pipeline``."""
    bucket, machine = args.bucket, args.state_machine
    if not bucket:
        bucket = _outputs(f"{args.stack_prefix}Data")["BucketName"]
    if not machine:
        machine = _outputs(f"{args.stack_prefix}Pipeline")["StateMachineArn"]
    return Deployment(bucket=bucket, state_machine_arn=machine)
