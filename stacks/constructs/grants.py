"""Who may do what: every grant of the pipeline's functions, each exactly what the function's calls need.

``self`` below is the :class:`~stacks.constructs.functions.PipelineFunctions` (``self.start_job`` is the function
of ``handlers.start_job``). The offline world enforces each statement, and a test removes each in turn to show
it is needed (tests/workflow/test_workflow_strictness.py).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from distill.settings import PIPELINE_TAG
from stacks.config import PipelineConfig
from stacks.constructs.arns import bedrock_arn, model_arns


def grant_all(self: Any, *, bucket: s3.IBucket, bedrock_role: iam.IRole, topic: sns.ITopic,
              config: PipelineConfig) -> None:  # fmt: skip
    _prepare(self, bucket, config)
    _bedrock(self, bedrock_role, config)
    _operations(self, bucket, topic, config)
    _job_waits(self, bucket, config)
    _invocation_logs(self, bucket, config)
    _evaluation(self, bucket, config)
    _job_queue(self, bucket, config)
    _janitor(self, bucket, topic, config)
    if self.key is not None:
        _project_key(self, self.key)


def _prepare(self: Any, bucket: s3.IBucket, config: PipelineConfig) -> None:
    layout, fn = config.layout, self.prepare_dataset
    _read_raw_data(fn, bucket, config)
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="WriteDatasetsAndReports", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
        resources=[bucket.arn_for_objects(f"{layout.datasets_prefix}*"),
                   bucket.arn_for_objects(f"{layout.reports_prefix}*")],
    ))  # fmt: skip


def _read_raw_data(fn: Any, bucket: s3.IBucket, config: PipelineConfig) -> None:
    """A run's raw data: the drop zone, and the allow-listed buckets (a dataset, or a separate evaluation file)."""
    drop = config.layout.drop_prefix
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="ReadDropZone", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{drop}*")],
    ))  # fmt: skip
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="ListDropZone", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{drop}*"]}},
    ))  # fmt: skip
    if config.allowed_data_buckets:
        # Runs may read raw data from these buckets too (allowedDataBuckets in cdk.json).
        partition = Stack.of(fn).partition
        others = config.allowed_data_buckets
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ReadAllowedDataBuckets", actions=["s3:GetObject"],
            resources=[f"arn:{partition}:s3:::{name}/*" for name in others],
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ListAllowedDataBuckets", actions=["s3:ListBucket"],
            resources=[f"arn:{partition}:s3:::{name}" for name in others],
        ))  # fmt: skip


def _bedrock(self: Any, bedrock_role: iam.IRole, config: PipelineConfig) -> None:
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

def _operations(self: Any, bucket: s3.IBucket, topic: sns.ITopic, config: PipelineConfig) -> None:
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
        _may_notify(self, fn, topic)
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

    # A run a person aborted: its job is looked at and stopped if it still runs (the job ARN is the run's own).
    self.notify_failure.add_to_role_policy(iam.PolicyStatement(
        sid="StopTheAbortedRunsJob", resources=[bedrock_arn(self, "model-customization-job")],
        actions=["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
    ))  # fmt: skip


def _job_waits(self: Any, bucket: s3.IBucket, config: PipelineConfig) -> None:
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

def log_locations(scope: Any, bucket: s3.IBucket, config: PipelineConfig) -> list[tuple[str, str]]:
    """(bucket ARN, prefix) of every place a run may distil invocation logs from: the project's own prefix and
    the allow-listed ``bucket/prefix/`` entries (distill.log_source)."""
    partition = Stack.of(scope).partition
    places = [(bucket.bucket_arn, config.layout.logs_prefix)]
    for entry in config.allowed_invocation_log_buckets:
        name, _, prefix = entry.partition("/")
        places.append((f"arn:{partition}:s3:::{name}", prefix))
    return places


def read_logs(role: iam.IRole | Any, places: list[tuple[str, str]], sid: str) -> None:
    """Read-only, prefix-scoped: list each prefix and get its objects, nothing else in those buckets."""
    add = role.add_to_policy if isinstance(role, iam.Role) else role.add_to_role_policy
    add(iam.PolicyStatement(sid=f"Read{sid}", actions=["s3:GetObject"],
                            resources=[f"{arn}/{prefix}*" for arn, prefix in places]))  # fmt: skip
    for number, (arn, prefix) in enumerate(places):
        add(iam.PolicyStatement(sid=f"List{sid}{number or ''}", actions=["s3:ListBucket"], resources=[arn],
                                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))  # fmt: skip


def _invocation_logs(self: Any, bucket: s3.IBucket, config: PipelineConfig) -> None:
    """The preview reads the logs a run names and writes the selection's copy and its report."""
    fn, layout = self.preview_invocation_logs, config.layout
    read_logs(fn, log_locations(self, bucket, config), "InvocationLogs")
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="WriteSelectionAndPreview", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
        resources=[bucket.arn_for_objects(f"{layout.datasets_prefix}*"),
                   bucket.arn_for_objects(f"{layout.reports_prefix}*")],
    ))  # fmt: skip


def _evaluation(self: Any, bucket: s3.IBucket, config: PipelineConfig) -> None:
    """Compare the served student with its teacher (distill.evaluation_steps), then promote it or remove its
    serving."""
    layout = config.layout
    reports, datasets = (bucket.arn_for_objects(f"{p}*") for p in (layout.reports_prefix, layout.datasets_prefix))
    prepare, batch, verdict = self.prepare_evaluation, self.evaluate_batch, self.decide_verdict
    _read_raw_data(prepare, bucket, config)  # evaluation.dataset, a separate file of prompts
    prepare.add_to_role_policy(iam.PolicyStatement(
        sid="ReadHeldOutRecords", actions=["s3:GetObject"], resources=[datasets]))  # fmt: skip
    for fn in (prepare, batch, verdict):
        fn.add_to_role_policy(iam.PolicyStatement(sid="WriteEvaluation", actions=["s3:PutObject"],
                                                  resources=[reports]))  # fmt: skip
    for fn in (batch, verdict):
        fn.add_to_role_policy(iam.PolicyStatement(sid="ReadEvaluation", actions=["s3:GetObject"],
                                                  resources=[reports]))  # fmt: skip
    # The training loss curve Bedrock wrote with the job's output.
    verdict.add_to_role_policy(iam.PolicyStatement(
        sid="ReadTrainingMetrics", actions=["s3:GetObject"],
        resources=[bucket.arn_for_objects(f"{layout.jobs_prefix}*")]))  # fmt: skip
    # Converse is authorized as bedrock:InvokeModel: on the served student, and on the teacher and the judge (the
    # allowed teachers; a cross-Region profile also on its base model in each Region it routes to).
    teachers = sorted({arn for model in (*config.allowed_teacher_models, config.teacher_model_id)
                       for arn in model_arns(self, model)})  # fmt: skip
    batch.add_to_role_policy(iam.PolicyStatement(
        sid="AskStudentTeacherAndJudge", actions=["bedrock:InvokeModel"],
        resources=[bedrock_arn(self, "provisioned-model"), bedrock_arn(self, "custom-model-deployment"), *teachers],
    ))  # fmt: skip
    deployments, custom_models = bedrock_arn(self, "custom-model-deployment"), bedrock_arn(self, "custom-model")
    # UpdateCustomModelDeployment is authorized on the new model and on the deployment it switches.
    self.promote_student.add_to_role_policy(iam.PolicyStatement(
        sid="PromoteBehindTheDeployment",
        actions=["bedrock:UpdateCustomModelDeployment", "bedrock:GetCustomModelDeployment"],
        resources=[custom_models, deployments],
    ))  # fmt: skip
    marker_key, marker_value = PIPELINE_TAG
    own = {"StringEquals": {f"aws:ResourceTag/{marker_key}": marker_value}}
    remove = self.remove_serving
    remove.add_to_role_policy(iam.PolicyStatement(
        sid="CheckTheCommitment", actions=["bedrock:GetProvisionedModelThroughput"],
        resources=[bedrock_arn(self, "provisioned-model")]))  # fmt: skip
    remove.add_to_role_policy(iam.PolicyStatement(
        sid="RemoveOwnServingOnly",
        actions=["bedrock:DeleteProvisionedModelThroughput", "bedrock:DeleteCustomModelDeployment"],
        resources=[bedrock_arn(self, "provisioned-model"), deployments], conditions=own,
    ))  # fmt: skip


def _job_queue(self: Any, bucket: s3.IBucket, config: PipelineConfig) -> None:
    """The job slots: one ledger object, changed with conditional writes; a freed slot answers the next run's
    task token; the limit may come from the account's quota (distill.job_slot_store)."""
    from distill import job_slot_store, job_slots

    ledger = bucket.arn_for_objects(f"{config.layout.queue_prefix}{job_slot_store.LEDGER_NAME}")
    stack = Stack.of(self)
    # "(Model customization) Scheduled customization jobs"; the SAR's quota ARN is servicequotas:<region>:
    # <account>:<service code>/<quota code>.
    quota = stack.format_arn(service="servicequotas", resource=job_slots.QUOTA_SERVICE_CODE,
                             resource_name=job_slots.QUOTA_CODE, arn_format=ArnFormat.SLASH_RESOURCE_NAME)  # fmt: skip
    for fn in (self.take_job_slot, self.release_job_slot, self.back_off_job_slot, self.notify_failure, self.janitor):
        # A conditional write (If-Match) needs s3:GetObject as well as s3:PutObject (S3 user guide, "How to
        # prevent object overwrites with conditional writes").
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="KeepTheJobQueue", actions=["s3:GetObject", "s3:PutObject"], resources=[ledger]))  # fmt: skip
        # A freed slot answers the task token of the next run in line (SendTaskSuccess takes no resource, SAR).
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="HandOnSlots", actions=["states:SendTaskSuccess"], resources=["*"]))  # fmt: skip
    # Only a take works the limit out (distill.job_slot_store): the applied quota, else its default.
    self.take_job_slot.add_to_role_policy(iam.PolicyStatement(
        sid="ReadTheJobsQuota", actions=["servicequotas:GetServiceQuota"], resources=[quota]))  # fmt: skip
    self.take_job_slot.add_to_role_policy(iam.PolicyStatement(  # the SAR lists no resource type for it
        sid="ReadTheDefaultJobsQuota", actions=["servicequotas:GetAWSDefaultServiceQuota"], resources=["*"]))  # fmt: skip


def _janitor(self: Any, bucket: s3.IBucket, topic: sns.ITopic, config: PipelineConfig) -> None:
    """Hourly: delete this pipeline's expired no-commitment serving, warn about idle serving (distill.janitor)."""
    fn, marker = self.janitor, PIPELINE_TAG
    provisioned, deployments = bedrock_arn(self, "provisioned-model"), bedrock_arn(self, "custom-model-deployment")
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="ListServing", resources=["*"],  # List calls take no resource ARN (SAR); nor does GetMetricData
        actions=["bedrock:ListProvisionedModelThroughputs", "bedrock:ListCustomModelDeployments",
                 "cloudwatch:GetMetricData"]))  # fmt: skip
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="ReadServingTags", actions=["bedrock:ListTagsForResource"], resources=[provisioned, deployments]))  # fmt: skip
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="DeleteOwnExpiredServingOnly", resources=[provisioned, deployments],
        actions=["bedrock:DeleteProvisionedModelThroughput", "bedrock:DeleteCustomModelDeployment"],
        conditions={"StringEquals": {f"aws:ResourceTag/{marker[0]}": marker[1]}}))  # fmt: skip
    from distill import janitor

    memory = config.layout.reports_prefix + janitor.MEMORY_NAME  # one object, listed by its own key
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="RememberWarnings", actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects(memory)]))
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="ListWarnings", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
        conditions={"StringEquals": {"s3:prefix": [memory]}}))  # fmt: skip
    _may_notify(self, fn, topic)


def _may_notify(self: Any, fn: Any, topic: sns.ITopic) -> None:
    """Publish to the project's topic, and use its key for that."""
    # Exact actions (grant_publish would add kms:GenerateDataKey* and more for an encrypted topic).
    fn.add_to_role_policy(iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[topic.topic_arn]))
    # Publishing to a topic under a customer managed key: "publishers have the kms:GenerateDataKey* and
    # kms:Decrypt permissions" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
    fn.add_to_role_policy(iam.PolicyStatement(
        sid="UseTopicKey", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.topic_key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"sns.{Stack.of(self).region}.amazonaws.com"}}))  # fmt: skip


def _project_key(self: Any, key: kms.IKey) -> None:
    """With ``kmsKeyArn`` the bucket's objects and the custom models are under the project's key. Every function
    may already kms:Decrypt with it (its environment); here what writing and encrypting need on top."""
    bedrock_via = {"StringEquals": {"kms:ViaService": f"bedrock.{Stack.of(self).region}.amazonaws.com"}}
    s3_via = {"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}}
    # S3 generates a data key for each object these functions write (SSE-KMS).
    for fn in (self.prepare_dataset, self.finish_run, self.notify_failure, self.await_job,
               self.preview_invocation_logs, self.prepare_evaluation, self.evaluate_batch,
               self.decide_verdict, self.take_job_slot, self.release_job_slot, self.back_off_job_slot,
               self.janitor):  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(sid="WriteUnderProjectKey", actions=["kms:GenerateDataKey"],
                                                  resources=[key.key_arn], conditions=s3_via))  # fmt: skip
    # "Encrypt a model" (customModelKmsKeyId): the identity that starts the job needs kms:Decrypt (it has it),
    # GenerateDataKey, DescribeKey and CreateGrant; whoever serves or invokes the model needs kms:Decrypt
    # ("Allow access to an encrypted model", https://docs.aws.amazon.com/bedrock/latest/userguide/encryption-custom-job.html).
    self.start_job.add_to_role_policy(iam.PolicyStatement(
        sid="EncryptTheCustomModel", resources=[key.key_arn], conditions=bedrock_via,
        actions=["kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
    ))  # fmt: skip
