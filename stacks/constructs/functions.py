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

from distill.settings import PIPELINE_TAG, PipelineSettings
from stacks.bundling import EXCLUDE, LAMBDA_DIR, RUNTIME, bundling_options
from stacks.compliance import skip_checkov
from stacks.config import ConfigError, PipelineConfig
from stacks.constructs.arns import bedrock_arn, model_arns
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
    "start_job": FunctionSpec(),
    "await_job": FunctionSpec(),
    "provision_throughput": FunctionSpec(),
    "check_throughput": FunctionSpec(),
    "deploy_on_demand": FunctionSpec(),
    "check_deployment": FunctionSpec(),
    "try_model": FunctionSpec(),
    "finish_run": FunctionSpec(),
    # Outside the state machine: EventBridge targets.
    "start_from_drop": FunctionSpec(),
    "notify_failure": FunctionSpec(),
    "job_state_changed": FunctionSpec(),
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
            polling=config.polling,
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

        self._grant_prepare(bucket, config)
        self._grant_bedrock(bedrock_role, config)
        self._grant_operations(bucket, topic, config)
        self._grant_job_waits(bucket, config)
        if self.key is not None:
            self._grant_project_key(self.key)

    # --- the functions, by what they do ---------------------------------------------------------------
    @property
    def check_run_settings(self) -> lambda_.Function:
        return self.by_module["check_run_settings"]

    @property
    def prepare_dataset(self) -> lambda_.Function:
        return self.by_module["prepare_dataset"]

    @property
    def start_job(self) -> lambda_.Function:
        return self.by_module["start_job"]

    @property
    def await_job(self) -> lambda_.Function:
        return self.by_module["await_job"]

    @property
    def job_state_changed(self) -> lambda_.Function:
        return self.by_module["job_state_changed"]

    @property
    def provision_throughput(self) -> lambda_.Function:
        return self.by_module["provision_throughput"]

    @property
    def check_throughput(self) -> lambda_.Function:
        return self.by_module["check_throughput"]

    @property
    def deploy_on_demand(self) -> lambda_.Function:
        return self.by_module["deploy_on_demand"]

    @property
    def check_deployment(self) -> lambda_.Function:
        return self.by_module["check_deployment"]

    @property
    def try_model(self) -> lambda_.Function:
        return self.by_module["try_model"]

    @property
    def finish_run(self) -> lambda_.Function:
        return self.by_module["finish_run"]

    @property
    def start_from_drop(self) -> lambda_.Function:
        return self.by_module["start_from_drop"]

    @property
    def notify_failure(self) -> lambda_.Function:
        return self.by_module["notify_failure"]

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

    def _grant_prepare(self, bucket: s3.IBucket, config: PipelineConfig) -> None:
        layout, fn = config.layout, self.prepare_dataset
        drop = layout.drop_prefix
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ReadDropZone", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{drop}*")],
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ListDropZone", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{drop}*"]}},
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="WriteDatasetsAndReports", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{layout.datasets_prefix}*"),
                       bucket.arn_for_objects(f"{layout.reports_prefix}*")],
        ))  # fmt: skip
        if config.allowed_data_buckets:
            # Runs may read raw data from these buckets too (allowedDataBuckets in cdk.json).
            partition = Stack.of(self).partition
            others = config.allowed_data_buckets
            fn.add_to_role_policy(iam.PolicyStatement(
                sid="ReadAllowedDataBuckets", actions=["s3:GetObject"],
                resources=[f"arn:{partition}:s3:::{name}/*" for name in others],
            ))  # fmt: skip
            fn.add_to_role_policy(iam.PolicyStatement(
                sid="ListAllowedDataBuckets", actions=["s3:ListBucket"],
                resources=[f"arn:{partition}:s3:::{name}" for name in others],
            ))  # fmt: skip

    def _grant_bedrock(self, bedrock_role: iam.IRole, config: PipelineConfig) -> None:
        jobs = bedrock_arn(self, "model-customization-job")
        custom_models = bedrock_arn(self, "custom-model")
        provisioned = bedrock_arn(self, "provisioned-model")
        models = sorted({arn for model in (*config.allowed_teacher_models, *config.allowed_student_models,
                                           config.teacher_model_id, config.student_model_id)
                         for arn in model_arns(self, model)})  # fmt: skip

        start = self.start_job
        start.add_to_role_policy(iam.PolicyStatement(
            sid="StartDistillationJobs",
            actions=["bedrock:CreateModelCustomizationJob", "bedrock:GetModelCustomizationJob",
                     "bedrock:TagResource"],
            resources=[jobs, custom_models, *models],
        ))  # fmt: skip
        start.add_to_role_policy(iam.PolicyStatement(
            sid="PassTheBedrockRole", actions=["iam:PassRole"], resources=[bedrock_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        ))  # fmt: skip
        for fn in (self.await_job, self.job_state_changed):
            fn.add_to_role_policy(iam.PolicyStatement(
                sid="CheckDistillationJobs", actions=["bedrock:GetModelCustomizationJob"], resources=[jobs],
            ))  # fmt: skip
        # The Service Authorization Reference lists custom-model and foundation-model for this action: the custom
        # model is what we provision, its base (an allowed student) is named too, so either reading holds.
        students = sorted({arn for model in (*config.allowed_student_models, config.student_model_id)
                           for arn in model_arns(self, model)})  # fmt: skip
        self.provision_throughput.add_to_role_policy(iam.PolicyStatement(
            sid="ProvisionThroughput",
            actions=["bedrock:CreateProvisionedModelThroughput", "bedrock:TagResource"],
            resources=[custom_models, provisioned, *students],
        ))  # fmt: skip
        self.check_throughput.add_to_role_policy(iam.PolicyStatement(
            sid="CheckThroughput", actions=["bedrock:GetProvisionedModelThroughput"], resources=[provisioned],
        ))  # fmt: skip
        deployments = bedrock_arn(self, "custom-model-deployment")
        # CreateCustomModelDeployment is authorized on the custom model and on the new deployment (whose tags
        # need bedrock:TagResource).
        self.deploy_on_demand.add_to_role_policy(iam.PolicyStatement(
            sid="DeployOnDemand", actions=["bedrock:CreateCustomModelDeployment", "bedrock:TagResource"],
            resources=[custom_models, deployments],
        ))  # fmt: skip
        self.check_deployment.add_to_role_policy(iam.PolicyStatement(
            sid="CheckDeployment", actions=["bedrock:GetCustomModelDeployment"], resources=[deployments],
        ))  # fmt: skip

    def _grant_operations(self, bucket: s3.IBucket, topic: sns.ITopic, config: PipelineConfig) -> None:
        layout = config.layout
        reports = bucket.arn_for_objects(f"{layout.reports_prefix}*")
        provisioned = bedrock_arn(self, "provisioned-model")
        deployments = bedrock_arn(self, "custom-model-deployment")
        self.try_model.add_to_role_policy(iam.PolicyStatement(
            sid="ReadConvertedDataset", actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{layout.datasets_prefix}*")],
        ))  # fmt: skip
        # Converse on a provisioned model or a deployment is authorized as bedrock:InvokeModel on that resource.
        self.try_model.add_to_role_policy(iam.PolicyStatement(
            sid="TryTheDistilledModel", actions=["bedrock:InvokeModel"], resources=[provisioned, deployments],
        ))  # fmt: skip
        for fn in (self.finish_run, self.notify_failure):
            fn.add_to_role_policy(
                iam.PolicyStatement(sid="WriteRunSummary", actions=["s3:PutObject"], resources=[reports])
            )
            # Exact actions (grant_publish would add kms:GenerateDataKey* and more for an encrypted topic).
            fn.add_to_role_policy(
                iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[topic.topic_arn])
            )
            # Publishing to a topic under a customer managed key: "publishers have the kms:GenerateDataKey* and
            # kms:Decrypt permissions" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
            fn.add_to_role_policy(iam.PolicyStatement(
                sid="UseTopicKey", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.topic_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{Stack.of(self).region}.amazonaws.com"}},
            ))  # fmt: skip
        self.start_from_drop.add_to_role_policy(iam.PolicyStatement(
            sid="ReadSidecarSettings", actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{layout.drop_prefix}*")],
        ))  # fmt: skip
        # Listing finds the dropped object and its sidecar (distill.s3objects): without it a missing sidecar is a
        # 403, not a 404.
        self.start_from_drop.add_to_role_policy(iam.PolicyStatement(
            sid="ListDropZone", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{layout.drop_prefix}*"]}},
        ))  # fmt: skip
        # The cost guard: find this pipeline's provisioned throughput by tag and delete a failed run's.
        self.notify_failure.add_to_role_policy(iam.PolicyStatement(
            sid="ListProvisionedThroughput",
            # List calls take no resource ARN (Bedrock's service authorization reference): "*" is the only
            # resource they accept.
            actions=["bedrock:ListProvisionedModelThroughputs"], resources=["*"],
        ))  # fmt: skip
        self.notify_failure.add_to_role_policy(iam.PolicyStatement(
            sid="ReadThroughputTags", actions=["bedrock:ListTagsForResource"], resources=[provisioned],
        ))  # fmt: skip
        marker_key, marker_value = PIPELINE_TAG
        self.notify_failure.add_to_role_policy(iam.PolicyStatement(
            sid="DeleteOwnThroughputOnly", actions=["bedrock:DeleteProvisionedModelThroughput"],
            resources=[provisioned],
            conditions={"StringEquals": {f"aws:ResourceTag/{marker_key}": marker_value}},
        ))  # fmt: skip

    def _grant_job_waits(self, bucket: s3.IBucket, config: PipelineConfig) -> None:
        """The run's task token waits under waits/ for the job's state-change event (distill.job_waits)."""
        waits = config.layout.waits_prefix
        tokens = bucket.arn_for_objects(f"{waits}*")
        self.await_job.add_to_role_policy(iam.PolicyStatement(
            sid="KeepTheWaitingToken", actions=["s3:PutObject", "s3:DeleteObject"], resources=[tokens],
        ))  # fmt: skip
        self.job_state_changed.add_to_role_policy(iam.PolicyStatement(
            sid="FindTheWaitingToken", actions=["s3:GetObject", "s3:DeleteObject"], resources=[tokens],
        ))  # fmt: skip
        self.job_state_changed.add_to_role_policy(iam.PolicyStatement(
            sid="ListWaitingTokens", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{waits}*"]}},
        ))  # fmt: skip
        self.notify_failure.add_to_role_policy(iam.PolicyStatement(
            sid="ForgetTheWaitingToken", actions=["s3:DeleteObject"], resources=[tokens],
        ))  # fmt: skip
        # Task-token calls take no resource ARN (Service Authorization Reference): "*" is the only resource.
        for fn in (self.await_job, self.job_state_changed):
            fn.add_to_role_policy(iam.PolicyStatement(
                sid="AnswerTheWaitingRun", actions=["states:SendTaskSuccess"], resources=["*"],
            ))  # fmt: skip

    def _grant_project_key(self, key: kms.IKey) -> None:
        """With ``kmsKeyArn`` the bucket's objects and the custom models are under the project's key. Every function
        may already kms:Decrypt with it (its environment); here what writing and encrypting need on top."""
        bedrock_via = {"StringEquals": {"kms:ViaService": f"bedrock.{Stack.of(self).region}.amazonaws.com"}}
        s3_via = {"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}}
        # S3 generates a data key for each object these functions write (SSE-KMS).
        for fn in (self.prepare_dataset, self.finish_run, self.notify_failure, self.await_job):
            fn.add_to_role_policy(iam.PolicyStatement(sid="WriteUnderProjectKey", actions=["kms:GenerateDataKey"],
                                                      resources=[key.key_arn], conditions=s3_via))  # fmt: skip
        # "Encrypt a model" (customModelKmsKeyId): the identity that starts the job needs kms:Decrypt (it has it),
        # GenerateDataKey, DescribeKey and CreateGrant; whoever serves or invokes the model needs kms:Decrypt
        # ("Allow access to an encrypted model", https://docs.aws.amazon.com/bedrock/latest/userguide/encryption-custom-job.html).
        self.start_job.add_to_role_policy(iam.PolicyStatement(
            sid="EncryptTheCustomModel", resources=[key.key_arn], conditions=bedrock_via,
            actions=["kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
        ))  # fmt: skip


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
