"""The run plan: every AWS call a typical run makes, per Lambda handler module, turned into IAM requirements by THE
table (:func:`distill_cli.access.required`) that the offline authorizer enforces; plus what Bedrock, Lambda and Step
Functions do with the roles they are given (:mod:`distill_cli.doctor.services`). Pure: no boto3.

The run is representative, not real: a file dropped as ``<dropPrefix>doctor-check.jsonl``, the deployed default
teacher and student (or the ones asked for), resolved by the pipeline's own ``distill.run_request.resolve`` into the
names, tags and S3 locations a real run gets; the CreateModelCustomizationJob request is the one
``distill.bedrock.customization_job_request`` builds. Resources a run creates (job, custom model, throughput,
deployment) get ARNs of the real shape with a sample id, tagged as the pipeline tags them.
``tests/workflow/test_doctor_plan_honest.py`` checks that the plan covers every permission an offline run is
granted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill import bedrock, drops, job_slot_store, job_slots, job_waits
from distill.invocation_logs.exporter import holdout_path
from distill.janitor import S3WarningMemory
from distill.locations import S3Location
from distill.run_request import ResolvedRun, parse_request, resolve
from distill.settings import PipelineSettings
from distill_cli.access import Where, required
from distill_cli.doctor import services
from distill_cli.doctor.basics import (
    BEDROCK_ROLE,
    HANDLER_MODULES,
    ROLES,
    STATE_MACHINE_ROLE,
    Account,
    Call,
    FunctionFacts,
    MachineFacts,
    Need,
)
from distill_cli.offline.bedrock import contracts

__all__ = ["BEDROCK_ROLE", "HANDLER_MODULES", "ROLES", "STATE_MACHINE_ROLE", "Account", "Call", "FunctionFacts",
           "MachineFacts", "Need", "RunPlan"]  # fmt: skip

EXECUTION_NAME = "distill-doctor-check"
DATASET_FILE = "doctor-check.jsonl"
SAMPLE_ID = "d0c70rc4ec00"  # Bedrock ids are 12 lowercase letters and digits


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


class RunPlan:
    """What a run with ``settings`` asks of each role, in ``account``. ``topic_key``: the ARN of the customer
    managed key of the notification topic (the pipeline stack's own, or kmsKeyArn). ``functions`` (handler module
    -> facts) and ``machine`` add what Lambda and Step Functions do with the roles. Raises
    ``distill.errors.InvalidRunInput`` when ``teacher``/``student`` are outside the deployed allow-lists."""

    def __init__(self, settings: PipelineSettings, account: Account, state_machine_arn: str, *, topic_key: str = "",
                 functions: Mapping[str, FunctionFacts] | None = None, machine: MachineFacts | None = None,
                 teacher: str | None = None, student: str | None = None, model_units: int = 1) -> None:  # fmt: skip
        self.settings, self.account, self.state_machine_arn = settings, account, state_machine_arn
        self.topic_key = topic_key or settings.custom_model_kms_key_arn
        self.functions, self.machine = dict(functions or {}), machine
        execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + EXECUTION_NAME
        self.dataset_uri = f"s3://{settings.bucket_name}/{settings.layout.drop_prefix}{DATASET_FILE}"
        request: dict[str, Any] = {"dataset": self.dataset_uri, "provisionedThroughput": {"modelUnits": model_units}}
        if teacher:
            request["teacherModelId"] = teacher
        if student:
            request["studentModelId"] = student
        self.run: ResolvedRun = resolve(parse_request(request), settings, EXECUTION_NAME, execution_arn)
        on_demand = {k: v for k, v in request.items() if k != "provisionedThroughput"}
        self.on_demand_run = resolve(parse_request({**on_demand, "onDemandDeployment": {}}), settings,
                                     EXECUTION_NAME, execution_arn)  # fmt: skip
        # A run from the invocation logs under the project's own prefix, with a filter.
        from_logs = {k: v for k, v in on_demand.items() if k != "dataset"}
        logs = {"s3Uri": f"s3://{settings.bucket_name}/{settings.layout.logs_prefix}", "usePromptResponse": True,
                "requestMetadataFilters": {"equals": {"team": "doctor"}}}  # fmt: skip
        self.logs_run = resolve(parse_request({**from_logs, "invocationLogs": logs}), settings, EXECUTION_NAME,
                                execution_arn)  # fmt: skip
        arn = self._arn
        student_id = self.run.student_model_id
        self.job_arn = arn(f"model-customization-job/{student_id}/{SAMPLE_ID}")
        self.custom_model_arn = arn(f"custom-model/{student_id}/{SAMPLE_ID}")
        self.throughput_arn = arn(f"provisioned-model/{SAMPLE_ID}")
        self.deployment_arn = arn(f"custom-model-deployment/{SAMPLE_ID}")
        self.where = self._where()

    @property
    def teacher(self) -> str:
        return self.run.teacher_model_id

    @property
    def student(self) -> str:
        return self.run.student_model_id

    @property
    def modules(self) -> tuple[str, ...]:
        """Every role the plan has needs for: the functions', Bedrock's, and the state machine's when known."""
        return ROLES if self.machine is not None else (*HANDLER_MODULES, BEDROCK_ROLE)

    def trust(self, role: str) -> tuple[str, dict[str, str]]:
        """(service principal, AssumeRole context) that must be able to assume the role of ``role``."""
        return services.trust(role, self.account, self.state_machine_arn, self.job_arn)

    def _arn(self, resource: str) -> str:
        a = self.account
        return f"arn:{a.partition}:bedrock:{a.region}:{a.account}:{resource}"

    def _where(self) -> Where:
        s, a = self.settings, self.account
        key, topic = s.custom_model_kms_key_arn, s.notification_topic_arn
        created = (self.job_arn, self.custom_model_arn, self.throughput_arn, self.deployment_arn)
        profiles = ({self.teacher: contracts.profile_regions(self.teacher, a.region)}
                    if self.teacher.startswith(contracts.PROFILE_PREFIXES) else {})  # fmt: skip
        return Where(region=a.region, account=a.account, partition=a.partition,
                     bucket_keys={s.bucket_name: key} if key else {},
                     resource_tags={arn: dict(self.run.tags) for arn in created},
                     names={self.run.job_name: self.job_arn}, profile_regions=profiles,
                     topic_keys={topic: self.topic_key} if self.topic_key and topic else {})  # fmt: skip

    # --- the calls -------------------------------------------------------------------------------------------
    def calls(self, module: str) -> list[Call]:
        """The calls ``handlers.<module>`` makes in a run (both serving paths, a failed run's cost guard)."""
        if module not in HANDLER_MODULES:
            raise KeyError(f"no handler module {module!r}; modules: {', '.join(HANDLER_MODULES)}")
        return getattr(self, f"_{module}")()  # type: ignore[no-any-return]

    def _s3(self, operation: str, key: str, **extra: Any) -> Call:
        return Call("s3", operation, {"Bucket": self.settings.bucket_name, "Key": key, **extra})

    def _list(self, prefix: str) -> Call:
        return Call("s3", "ListObjectsV2", {"Bucket": self.settings.bucket_name, "Prefix": prefix, "MaxKeys": 1})

    def _publish(self) -> list[Call]:
        topic = self.settings.notification_topic_arn
        return [Call("sns", "Publish", {"TopicArn": topic, "Message": "..."})] if topic else []

    @property
    def _source_key(self) -> str:
        return S3Location.parse(self.run.source).key

    @property
    def _dataset_key(self) -> str:
        return S3Location.parse(self.run.dataset_uri).key

    @property
    def _summary_key(self) -> str:
        return S3Location.parse(self.run.reports_uri).key + "summary.json"

    def _check_run_settings(self) -> list[Call]:
        return []  # resolves the input against its settings: no AWS call

    def _prepare_dataset(self) -> list[Call]:
        dataset, upload = self._dataset_key, {"UploadId": "upload-id"}
        return [
            self._list(self._source_key), self._s3("GetObject", self._source_key),
            self._s3("PutObject", dataset), self._s3("CreateMultipartUpload", dataset),
            self._s3("UploadPart", dataset, PartNumber=1, **upload),
            self._s3("CompleteMultipartUpload", dataset, **upload), self._s3("AbortMultipartUpload", dataset, **upload),
            self._s3("PutObject", S3Location.parse(self.run.reports_uri).key + "validation-report.json"),
        ]  # fmt: skip

    def _preview_invocation_logs(self) -> list[Call]:
        logs = S3Location.parse(self.logs_run.source)
        sample = f"{logs.key}AWSLogs/{self.account.account}/BedrockModelInvocationLogs/{self.account.region}/x.json.gz"
        copy, upload = S3Location.parse(self.logs_run.dataset_uri).key, {"UploadId": "upload-id"}
        return [
            Call("s3", "ListObjectsV2", {"Bucket": logs.bucket, "Prefix": logs.key}),
            Call("s3", "GetObject", {"Bucket": logs.bucket, "Key": sample}),
            *(self._s3(op, key, **extra) for key in (copy, holdout_path(copy))
              for op, extra in (("PutObject", {}), ("CreateMultipartUpload", {}), ("UploadPart", {"PartNumber": 1, **upload}),
                                ("CompleteMultipartUpload", upload), ("AbortMultipartUpload", upload))),
            self._s3("PutObject", S3Location.parse(self.logs_run.reports_uri).key + "invocation-logs-preview.json"),
        ]  # fmt: skip

    def _start_job(self) -> list[Call]:
        s = self.settings
        request = bedrock.customization_job_request(self.run, s.bedrock_role_arn, s.custom_model_kms_key_arn)
        from_logs = bedrock.customization_job_request(self.logs_run, s.bedrock_role_arn, s.custom_model_kms_key_arn)
        # A retried task looks for the job it may already have started, by name.
        return [Call("bedrock", "CreateModelCustomizationJob", request),
                Call("bedrock", "CreateModelCustomizationJob", from_logs),
                Call("bedrock", "GetModelCustomizationJob", {"jobIdentifier": self.run.job_name})]  # fmt: skip

    @property
    def _token_key(self) -> str:
        return job_waits.token_location(self.settings, self.job_arn).key

    def _await_job(self) -> list[Call]:
        # Keeps the task token, looks at the job; answers the token itself when the job has ended.
        return [self._s3("PutObject", self._token_key),
                Call("bedrock", "GetModelCustomizationJob", {"jobIdentifier": self.job_arn}),
                Call("stepfunctions", "SendTaskSuccess", {"taskToken": "token", "output": "{}"}),
                self._s3("DeleteObject", self._token_key)]  # fmt: skip

    def _job_state_changed(self) -> list[Call]:
        return [self._list(self._token_key), self._s3("GetObject", self._token_key),
                Call("bedrock", "GetModelCustomizationJob", {"jobIdentifier": self.job_arn}),
                Call("stepfunctions", "SendTaskSuccess", {"taskToken": "token", "output": "{}"}),
                self._s3("DeleteObject", self._token_key)]  # fmt: skip

    def _provision_throughput(self) -> list[Call]:
        plan = self.run.provisioned_throughput
        assert plan is not None
        return [Call("bedrock", "CreateProvisionedModelThroughput", {
            "modelUnits": plan.model_units, "provisionedModelName": plan.provisioned_model_name,
            "modelId": self.custom_model_arn, "clientRequestToken": plan.client_request_token,
            "tags": _tag_list(self.run.tags)})]  # fmt: skip

    def _check_throughput(self) -> list[Call]:
        return [Call("bedrock", "GetProvisionedModelThroughput", {"provisionedModelId": self.throughput_arn})]

    def _deploy_on_demand(self) -> list[Call]:
        plan = self.on_demand_run.on_demand_deployment
        assert plan is not None
        return [Call("bedrock", "CreateCustomModelDeployment", {
            "modelDeploymentName": plan.deployment_name, "modelArn": self.custom_model_arn,
            "clientRequestToken": plan.client_request_token, "tags": _tag_list(self.run.tags)})]  # fmt: skip

    def _check_deployment(self) -> list[Call]:
        return [Call("bedrock", "GetCustomModelDeployment", {"customModelDeploymentIdentifier": self.deployment_arn})]

    def _try_model(self) -> list[Call]:
        return [self._s3("GetObject", self._dataset_key, Range="bytes=0-1048575"),
                *(Call("bedrock-runtime", "Converse", {"modelId": model, "messages": []})
                  for model in (self.throughput_arn, self.deployment_arn))]  # fmt: skip

    def _prepare_evaluation(self) -> list[Call]:
        plan = self.run.evaluation
        assert plan is not None and plan.holdout_uri
        separate = f"{self.settings.layout.drop_prefix}doctor-evaluation.jsonl"  # an evaluation.dataset file
        return [self._s3("GetObject", S3Location.parse(plan.holdout_uri).key), self._list(separate),
                self._s3("GetObject", separate), self._s3("PutObject", S3Location.parse(plan.prompts_uri).key)]  # fmt: skip

    def _evaluate_batch(self) -> list[Call]:
        plan = self.run.evaluation
        assert plan is not None
        results = S3Location.parse(plan.results_prefix).key + "batch-0000.jsonl"
        models = (self.throughput_arn, self.deployment_arn, self.teacher, plan.judge_model_id)
        return [self._s3("GetObject", S3Location.parse(plan.prompts_uri).key), self._s3("PutObject", results),
                *(Call("bedrock-runtime", "Converse", {"modelId": model, "messages": []}) for model in models)]  # fmt: skip

    def _decide_verdict(self) -> list[Call]:
        plan = self.run.evaluation
        assert plan is not None
        reports = S3Location.parse(self.run.reports_uri).key
        metrics = f"{S3Location.parse(self.run.output_uri).key}{SAMPLE_ID}/training_artifacts/step_wise_training_metrics.csv"
        return [self._s3("GetObject", S3Location.parse(plan.results_prefix).key + "batch-0000.jsonl"),
                self._s3("GetObject", metrics), self._s3("PutObject", reports + "verdict.json"),
                self._s3("PutObject", reports + "report.html")]  # fmt: skip

    def _promote_student(self) -> list[Call]:
        # evaluation.promoteTo: an existing deployment (any, not only the pipeline's) switched to the new model.
        target = {"customModelDeploymentIdentifier": self.deployment_arn}
        return [Call("bedrock", "UpdateCustomModelDeployment", {**target, "modelArn": self.custom_model_arn}),
                Call("bedrock", "GetCustomModelDeployment", target)]  # fmt: skip

    def _remove_serving(self) -> list[Call]:
        pt, deployment = {"provisionedModelId": self.throughput_arn}, self.deployment_arn
        return [Call("bedrock", "GetProvisionedModelThroughput", pt),
                Call("bedrock", "DeleteProvisionedModelThroughput", pt),
                Call("bedrock", "DeleteCustomModelDeployment", {"customModelDeploymentIdentifier": deployment})]  # fmt: skip

    def _finish_run(self) -> list[Call]:
        return [self._s3("PutObject", self._summary_key), *self._publish()]

    def _start_from_drop(self) -> list[Call]:
        key = self._source_key
        dropped = drops.DroppedObject(self.settings.bucket_name, key, "doctor-check-version")
        machine = self.state_machine_arn
        execution = machine.replace(":stateMachine:", ":execution:", 1) + ":" + dropped.execution_name
        sidecar = key + drops.SIDECAR_SUFFIX
        return [self._list(key), self._list(sidecar), self._s3("GetObject", sidecar),
                Call("stepfunctions", "DescribeExecution", {"executionArn": execution}),
                Call("stepfunctions", "StartExecution", {"stateMachineArn": machine, "name": dropped.execution_name,
                                                         "input": "{}"})]  # fmt: skip

    # --- the job queue (distill.job_slot_store) and the hourly janitor (distill.janitor) ----------------------
    def _job_queue(self) -> list[Call]:
        """Read and conditionally write the ledger; answer the task token of the run a freed slot goes to."""
        ledger = job_slot_store.ledger_location(self.settings.bucket_name, self.settings.layout).key
        return [self._s3("GetObject", ledger), self._s3("PutObject", ledger, IfMatch='"etag"'),
                Call("stepfunctions", "SendTaskSuccess", {"taskToken": "token", "output": "{}"})]  # fmt: skip

    def _take_job_slot(self) -> list[Call]:
        # maxConcurrentJobs "auto": the jobs quota, applied or else its default.
        quota = {"ServiceCode": job_slots.QUOTA_SERVICE_CODE, "QuotaCode": job_slots.QUOTA_CODE}
        return [*self._job_queue(), Call("service-quotas", "GetServiceQuota", quota),
                Call("service-quotas", "GetAWSDefaultServiceQuota", quota)]  # fmt: skip

    def _release_job_slot(self) -> list[Call]:
        return self._job_queue()

    def _back_off_job_slot(self) -> list[Call]:
        return self._job_queue()

    def _janitor(self) -> list[Call]:
        pt, deployment = {"provisionedModelId": self.throughput_arn}, self.deployment_arn
        memory = S3WarningMemory.of(self.settings).key
        return [Call("bedrock", "ListProvisionedModelThroughputs", {}), Call("bedrock", "ListCustomModelDeployments", {}),
                *(Call("bedrock", "ListTagsForResource", {"resourceARN": arn}) for arn in (pt["provisionedModelId"], deployment)),
                Call("bedrock", "DeleteProvisionedModelThroughput", pt),
                Call("bedrock", "DeleteCustomModelDeployment", {"customModelDeploymentIdentifier": deployment}),
                Call("cloudwatch", "GetMetricData", {"MetricDataQueries": []}),
                self._list(memory), self._s3("GetObject", memory), self._s3("PutObject", memory), *self._publish(),
                # Frees the slots of runs that ended without giving theirs back.
                *self._job_queue(), Call("stepfunctions", "DescribeExecution", {"executionArn": self.run.execution_arn})]  # fmt: skip

    def _notify_failure(self) -> list[Call]:
        pt = self.throughput_arn
        job = {"jobIdentifier": self.job_arn}  # an aborted run's job is stopped if it still runs
        return [Call("stepfunctions", "GetExecutionHistory", {"executionArn": self.run.execution_arn}),
                self._s3("DeleteObject", self._token_key), *self._job_queue(),
                Call("bedrock", "GetModelCustomizationJob", job), Call("bedrock", "StopModelCustomizationJob", job),
                Call("bedrock", "ListProvisionedModelThroughputs", {}),
                Call("bedrock", "ListTagsForResource", {"resourceARN": pt}),
                Call("bedrock", "DeleteProvisionedModelThroughput", {"provisionedModelId": pt}),
                self._s3("PutObject", self._summary_key), *self._publish()]  # fmt: skip

    # --- what the roles must allow ---------------------------------------------------------------------------
    def needs(self, role: str) -> list[Need]:
        """Every permission the role of ``role`` (a handler module, BEDROCK_ROLE or STATE_MACHINE_ROLE) needs,
        without repeats."""
        a, key = self.account, self.settings.custom_model_kms_key_arn
        if role == BEDROCK_ROLE:
            found = services.bedrock_role_needs(a, (self.run, self.logs_run), self.where.bucket_keys)
        elif role == STATE_MACHINE_ROLE:
            found = services.machine_needs(a, self.machine, self.functions) if self.machine else []
        else:
            found = [Need(requirement, f"{call.service} {call.operation}")
                     for call in self.calls(role)
                     for requirement in required(call.service, call.operation, call.params, self.where)]  # fmt: skip
            found += services.model_key_needs(a, role, key)
            if role in self.functions:
                found += services.function_needs(a, self.functions[role])
        unique: dict[tuple[str, str, tuple[tuple[str, Any], ...]], Need] = {}
        for need in found:
            r = need.requirement
            unique.setdefault((r.action, r.resource, tuple(sorted(r.context.items()))), need)
        return list(unique.values())
