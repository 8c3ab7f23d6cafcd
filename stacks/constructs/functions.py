"""One Lambda function per handler module, all built from one asset, each with only the access it needs."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from distill.settings import PipelineSettings
from stacks.bundling import EXCLUDE, LAMBDA_DIR, RUNTIME, bundling_options
from stacks.compliance import skip_checkov
from stacks.config import ConfigError, PipelineConfig
from stacks.constructs import grants
from stacks.constructs.log_groups import log_group


@dataclass(frozen=True)
class FunctionSpec:
    timeout_minutes: int = 1
    memory_mb: int = 256

    @property
    def timeout(self) -> Duration:
        return Duration.minutes(self.timeout_minutes)


# handler module -> sizing. Each becomes handlers.<module>.handler.
HANDLERS = {
    "check_run_settings": FunctionSpec(),
    # Converts and validates up to 1 GB of JSONL: the only long, memory-hungry step.
    "prepare_dataset": FunctionSpec(timeout_minutes=15, memory_mb=1024),
    # Reads a run's invocation logs (streamed, flat memory) and writes the selection's copy.
    "preview_invocation_logs": FunctionSpec(timeout_minutes=15, memory_mb=1024),
    # The job queue (distill.job_slot_store): a slot before the job starts, given back when it ends.
    "take_job_slot": FunctionSpec(),
    "back_off_job_slot": FunctionSpec(),
    "release_job_slot": FunctionSpec(),
    "start_job": FunctionSpec(),
    "await_job": FunctionSpec(),
    "provision_throughput": FunctionSpec(),
    "check_throughput": FunctionSpec(),
    "deploy_on_demand": FunctionSpec(),
    "check_deployment": FunctionSpec(),
    "try_model": FunctionSpec(),
    # Comparing the student with its teacher: a batch makes up to ~50 model calls one after the other.
    "prepare_evaluation": FunctionSpec(timeout_minutes=5, memory_mb=512),
    "evaluate_batch": FunctionSpec(timeout_minutes=15),
    "decide_verdict": FunctionSpec(timeout_minutes=5, memory_mb=512),
    "promote_student": FunctionSpec(),
    "remove_serving": FunctionSpec(),
    "finish_run": FunctionSpec(),
    # Outside the state machine: EventBridge targets.
    "start_from_drop": FunctionSpec(),
    "notify_failure": FunctionSpec(),
    "job_state_changed": FunctionSpec(),
    # Hourly: deletes expired serving, warns about idle serving (distill.janitor).
    "janitor": FunctionSpec(timeout_minutes=2),
}

FUNCTION_CHECKOV_REASONS = {
    "CKV_AWS_115": "No reserved concurrency: in a new account (concurrency 10) reserving any would fail the deploy; "
    "runs are few and Step Functions paces the calls.",
    "CKV_AWS_116": "Step Functions invokes these synchronously and retries them; the two EventBridge-invoked "
    "functions have retries and a dead-letter queue on their rule targets instead.",
    "CKV_AWS_117": "The functions call only AWS APIs; a VPC would need NAT or endpoints (cost) and adds nothing.",
    "CKV_AWS_173": "The environment holds no secrets (bucket name, ARNs, defaults); Lambda encrypts it at rest, "
    "with the customer managed key when kmsKeyArn is set.",
}

ENVIRONMENT_LIMIT = 4 * 1024
ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "distill-pipeline",
    "POWERTOOLS_METRICS_NAMESPACE": "DistillPipeline",
    "LOG_LEVEL": "INFO",
}


class PipelineFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        bedrock_role: iam.IRole,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        config: PipelineConfig,
    ) -> None:
        super().__init__(scope, id)
        self.key = bucket.encryption_key
        self.topic_key = topic_key
        settings = PipelineSettings(
            bucket_name=bucket.bucket_name,
            bedrock_role_arn=bedrock_role.role_arn,
            layout=config.layout,
            defaults=config.defaults,
            allowed_teacher_models=config.allowed_teacher_models,
            allowed_student_models=config.allowed_student_models,
            allowed_data_buckets=config.allowed_data_buckets,
            allowed_log_buckets=config.allowed_invocation_log_buckets,
            polling=config.polling,
            max_concurrent_jobs=config.max_concurrent_jobs,
            idle_warning_hours=config.idle_warning_hours,
            notification_topic_arn=topic.topic_arn,
            custom_model_kms_key_arn=config.kms_key_arn,
        )
        # to_json_string keeps the bucket name and role ARN as CloudFormation references (the JSON round trip
        # only turns tuples into lists, which jsii cannot pass).
        as_json = msgspec.json.decode(msgspec.json.encode(settings))
        check_environment_size(settings)
        environment = {"PIPELINE_SETTINGS": Stack.of(self).to_json_string(as_json), **ENVIRONMENT}
        # One asset for all functions: bundled once per synth, one upload.
        code = lambda_.Code.from_asset(str(LAMBDA_DIR), bundling=bundling_options(), exclude=EXCLUDE)
        self.by_module: dict[str, lambda_.Function] = {}
        for module, spec in HANDLERS.items():
            self.by_module[module] = self._function(module, spec, code, environment, config.log_retention_days)

        grants.grant_all(self, bucket=bucket, bedrock_role=bedrock_role, topic=topic, config=config)

    # --- the functions, by handler module: functions.start_job is the function of handlers.start_job -----------
    def __getattr__(self, module: str) -> lambda_.Function:
        by_module = self.__dict__.get("by_module", {})
        if module in by_module:
            return by_module[module]  # type: ignore[no-any-return]
        raise AttributeError(f"no function for handler module {module!r}")

    def allow_runs_of(self, state_machine: sfn.IStateMachine) -> None:
        """Rights that name the state machine, which exists only after the functions it runs."""
        self.start_from_drop.add_environment("STATE_MACHINE_ARN", state_machine.state_machine_arn)
        self.start_from_drop.add_to_role_policy(iam.PolicyStatement(
            sid="StartRuns", actions=["states:StartExecution"], resources=[state_machine.state_machine_arn],
        ))  # fmt: skip
        stack = Stack.of(self)
        name = stack.split_arn(state_machine.state_machine_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
        executions = stack.format_arn(service="states", resource="execution", resource_name=f"{name}:*",
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)  # fmt: skip
        self.notify_failure.add_to_role_policy(iam.PolicyStatement(
            sid="ReadFailedRunHistory", actions=["states:GetExecutionHistory"], resources=[executions],
        ))  # fmt: skip
        self.start_from_drop.add_to_role_policy(iam.PolicyStatement(
            sid="SeeEarlierRuns", actions=["states:DescribeExecution"], resources=[executions],
        ))  # fmt: skip
        # The hourly janitor frees the job slots of runs that ended without giving them back (their failure
        # notice was lost). Not a function the state machine runs: naming its executions makes no cycle.
        self.janitor.add_to_role_policy(iam.PolicyStatement(
            sid="SeeRunsInTheQueue", actions=["states:DescribeExecution"], resources=[executions],
        ))  # fmt: skip

    def _function(
        self, module: str, spec: FunctionSpec, code: lambda_.Code, environment: dict[str, str], log_days: int
    ) -> lambda_.Function:
        name = "".join(part.title() for part in module.split("_"))
        group = log_group(self, f"{name}Logs", days=log_days, key=self.key)
        # Our own role: writes to its own log group only (no AWSLambdaBasicExecutionRole with logs on "*").
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        group.grant_write(role)
        function = lambda_.Function(
            self,
            name,
            code=code,
            handler=f"handlers.{module}.handler",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            timeout=spec.timeout,
            memory_size=spec.memory_mb,
            environment=environment,
            role=role,
            log_group=group,
            tracing=lambda_.Tracing.ACTIVE,
            environment_encryption=self.key,
        )
        for check, reason in FUNCTION_CHECKOV_REASONS.items():
            skip_checkov(function, check, reason)
        if self.key is not None:
            # An environment under a customer managed key is decrypted with the function's role when it starts
            # (else KMSAccessDeniedException): https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html
            # The same kms:Decrypt covers what S3, SNS and Bedrock decrypt on the function's behalf with that key.
            role.add_to_policy(iam.PolicyStatement(
                sid="DecryptOwnEnvironment", actions=["kms:Decrypt"], resources=[self.key.key_arn],
            ))  # fmt: skip
        return function


def check_environment_size(settings: PipelineSettings) -> None:
    """Lambda allows 4 KB of environment variables per function, measured as the JSON of the variables
    (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): refuse at synth what
    CloudFormation would refuse at deploy. References (bucket name, ARNs) are sized at their longest."""
    import msgspec as _msgspec

    longest = {"bucket_name": "b" * 63, "bedrock_role_arn": "r" * 160, "notification_topic_arn": "t" * 330,
               "custom_model_kms_key_arn": "k" * (100 if settings.custom_model_kms_key_arn else 0)}  # fmt: skip
    sized = _msgspec.structs.replace(settings, **longest)
    variables = {"PIPELINE_SETTINGS": _msgspec.json.encode(sized).decode(), **ENVIRONMENT,
                 "STATE_MACHINE_ARN": "s" * 200}  # fmt: skip
    size = len(_msgspec.json.encode(variables))
    if size > ENVIRONMENT_LIMIT:
        raise ConfigError(
            f"cdk.json context: the functions' environment would be up to {size} bytes, over Lambda's limit of "
            f"{ENVIRONMENT_LIMIT} (4 KB): shorten allowedDataBuckets, allowedTeacherModels or allowedStudentModels"
        )
