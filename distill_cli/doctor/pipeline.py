"""What the pipeline stack deployed: its functions (handler module, role, log group, tracing, environment key: lambda
GetFunctionConfiguration), every IAM role it holds (CloudFormation ListStackResources), the topic's key, the state
machine's role, logging and tracing (states DescribeStateMachine), and the settings the functions run with.

The settings come from the functions' own ``PIPELINE_SETTINGS`` environment (the JSON every handler loads with
``distill.settings.load_settings``), not from the stack outputs: the outputs carry only the bucket, the drop
prefix, the state machine and the topic, while a run also depends on the layout prefixes, the default teacher and
student, the allow-lists, the Bedrock role and the KMS key, all of which are in the settings. The functions must be
read anyway, for their role and handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distill.settings import SETTINGS_ENV, PipelineSettings, parse_settings
from distill_cli.deployed import NotDeployed, aws_error
from distill_cli.doctor.basics import Account, FunctionFacts, MachineFacts
from distill_cli.doctor.report import Check, could_not_check

READ_FUNCTIONS_FIX = "give the person running doctor lambda:GetFunctionConfiguration on the pipeline's functions"


@dataclass(frozen=True)
class Function:
    name: str
    module: str  # the handler module: handlers.<module>.handler
    role_arn: str
    facts: FunctionFacts


@dataclass
class Deployed:
    stack: str
    status: str
    account: Account
    functions: list[Function] = field(default_factory=list)
    role_arns: list[str] = field(default_factory=list)  # every AWS::IAM::Role of the stack
    topic_key: str = ""  # the stack's own key of the notification topic ("" when kmsKeyArn is used instead)
    settings: PipelineSettings | None = None
    machine: MachineFacts | None = None
    machine_role: str = ""
    problems: list[Check] = field(default_factory=list)  # what could not be read

    def role_of(self, module: str) -> str | None:
        return next((f.role_arn for f in self.functions if f.module == module), None)


def role_name(arn: str) -> str:
    """The role's name: the last part of its ARN (``arn:aws:iam::ACCOUNT:role/path/NAME``)."""
    return arn.rsplit("/", 1)[-1]


def handler_module(handler: str) -> str:
    """``handlers.start_job.handler`` -> ``start_job``."""
    return handler.rsplit(".", 1)[0].rsplit(".", 1)[-1]


def _resources(stack: str) -> list[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    from distill import aws

    found: list[dict[str, Any]] = []
    try:
        for page in aws.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack):
            found.extend(page.get("StackResourceSummaries", []))
    except ClientError as error:
        if "does not exist" in aws_error(error):
            raise NotDeployed(f"stack {stack} not found in this account and region: deploy the pipeline "
                              "(make deploy) or name its stacks with --stack-prefix") from None  # fmt: skip
        raise NotDeployed(f"cannot list the resources of stack {stack} ({aws_error(error)}): "
                          "doctor needs cloudformation:ListStackResources") from None  # fmt: skip
    except BotoCoreError as error:
        raise NotDeployed(f"cannot list the resources of stack {stack} ({aws_error(error)})") from None
    return found


def discover(stack: str, state_machine_arn: str, status: str = "") -> Deployed:
    """Read the pipeline stack. Raises NotDeployed when the stack cannot be listed; what cannot be read about
    single functions becomes a problem row."""
    from botocore.exceptions import BotoCoreError, ClientError

    from distill import aws

    account = Account.of_arn(state_machine_arn)
    found = Deployed(stack=stack, status=status, account=account)
    lambdas = aws.client("lambda")
    raw_settings: list[tuple[str, str]] = []  # (function, PIPELINE_SETTINGS)
    for resource in _resources(stack):
        kind, physical = resource.get("ResourceType"), resource.get("PhysicalResourceId", "")
        if kind == "AWS::IAM::Role" and physical:
            found.role_arns.append(f"arn:{account.partition}:iam::{account.account}:role/{physical}")
        elif kind == "AWS::KMS::Key" and physical and "TopicKey" in resource.get("LogicalResourceId", ""):
            found.topic_key = f"arn:{account.partition}:kms:{account.region}:{account.account}:key/{physical}"
        elif kind == "AWS::Lambda::Function" and physical:
            try:
                config = lambdas.get_function_configuration(FunctionName=physical)
            except (ClientError, BotoCoreError) as error:
                found.problems.append(could_not_check(f"function {physical}", "its role and handler",
                                                      aws_error(error), READ_FUNCTIONS_FIX))  # fmt: skip
                continue
            found.functions.append(Function(physical, handler_module(config["Handler"]), config["Role"],
                                            function_facts(config)))  # fmt: skip
            environment = config.get("Environment") or {}
            value = (environment.get("Variables") or {}).get(SETTINGS_ENV)
            if value:
                raw_settings.append((physical, value))
            elif environment.get("Error"):
                error_text = f"{environment['Error'].get('ErrorCode', '')}: {environment['Error'].get('Message', '')}"
                found.problems.append(could_not_check(f"function {physical}", f"its {SETTINGS_ENV}", error_text,
                                                      "give the person running doctor kms:Decrypt on the key of "
                                                      "the functions' environment (kmsKeyArn)"))  # fmt: skip
    _settings(found, raw_settings)
    _machine(found, state_machine_arn)
    return found


def function_facts(config: dict[str, Any]) -> FunctionFacts:
    """From GetFunctionConfiguration: without LoggingConfig.LogGroup a function logs to /aws/lambda/<name>."""
    log_group = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{config['FunctionName']}"
    traced = (config.get("TracingConfig") or {}).get("Mode") == "Active"
    return FunctionFacts(config["FunctionArn"], log_group, traced, config.get("KMSKeyArn") or "")


def _machine(found: Deployed, arn: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from distill import aws

    try:
        described = aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    except (ClientError, BotoCoreError) as error:
        found.problems.append(could_not_check("role: state_machine", f"the state machine {arn}", aws_error(error),
                                              "give the person running doctor states:DescribeStateMachine"))  # fmt: skip
        return
    logging = described.get("loggingConfiguration") or {}
    found.machine_role = str(described["roleArn"])
    found.machine = MachineFacts(arn, str(described.get("definition", "")),
                                 logs=logging.get("level", "OFF") != "OFF" and bool(logging.get("destinations")),
                                 traced=bool((described.get("tracingConfiguration") or {}).get("enabled")))  # fmt: skip


def _settings(found: Deployed, raw: list[tuple[str, str]]) -> None:
    """The functions share one PIPELINE_SETTINGS; the first readable one is used."""
    for function, value in raw:
        try:
            found.settings = parse_settings(value)
            return
        except ValueError as error:
            found.problems.append(could_not_check(f"function {function}", SETTINGS_ENV, str(error),
                                                  "redeploy the pipeline with this version of the project "
                                                  "(cdk deploy): its settings do not match this CLI"))  # fmt: skip
            return
