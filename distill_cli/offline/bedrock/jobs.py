"""Model customization jobs in the simulated Bedrock: CreateModelCustomizationJob (idempotent by client request
token, refused when the service role could not do the job), GetModelCustomizationJob walking the phases of
``statusDetails`` to the outcome it was told to reach, and the output Bedrock writes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from distill_cli.offline.bedrock import contracts

Outcome = Literal["completed", "failed", "stopped"]
# A stopped job's status goes InProgress -> Stopping -> Stopped (GetModelCustomizationJob API reference lists
# Stopping); how long it stays Stopping is not documented: offline, a minute.
STOPPING_SECONDS = 60.0

FAILURE_MESSAGES = {
    "failed": (
        "Internal error: the teacher model could not generate responses for 412 of 500 prompts "
        "(insufficient valid prompts after data processing: 88 < 100)."
    ),
    "stopped": "Job stopped by user request (StopModelCustomizationJob).",
}
_PHASES = ("validationDetails", "dataProcessingDetails", "trainingDetails")


def training_source(config: dict[str, Any]) -> str:
    """Where the job reads its training data: a dataset, or the invocation logs' prefix."""
    logs = config.get("invocationLogsConfig", {}).get("invocationLogSource", {})
    return str(config.get("s3Uri") or logs.get("s3Uri", ""))


def short_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:12]


@dataclass
class Job:
    arn: str
    request: dict[str, Any]
    outcome: Outcome
    checks_to_finish: int
    created: float
    checks: int = 0
    seconds: float | None = None  # how long the job runs on the world's clock (None: until checks_to_finish)
    now: float = 0.0  # the world's time at the last look
    announced: bool = False  # its end was sent as a state-change event
    failure_message: str = ""  # why it failed, when not the generic message
    stopping: bool = False  # StopModelCustomizationJob was called: Stopping until it ends
    earlier: bool = False  # made by seed_deployment: its outputs are in a bucket of an earlier run, not written here

    @property
    def name(self) -> str:
        return str(self.request["jobName"])

    @property
    def done(self) -> bool:
        if self.seconds is not None:
            return self.now >= self.created + self.seconds
        return self.checks >= self.checks_to_finish

    @property
    def progress(self) -> float:
        """How far along the job is, 0..1."""
        if self.seconds is not None:
            return min(1.0, (self.now - self.created) / max(self.seconds, 1e-9))
        return min(1.0, self.checks / max(self.checks_to_finish, 1))

    @property
    def end_time(self) -> float:
        return self.created + self.seconds if self.seconds is not None else self.created + 5 * 3600


class JobsMixin:
    """Needs: region, account, job_outcome, job_checks, jobs, s3, bucket_keys, _lock, _enter, _error, _now,
    role_problem, caller_problem (see SimulatedBedrock)."""

    def create_model_customization_job(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("CreateModelCustomizationJob", params)
        with s._lock:
            for job in s.jobs.values():
                if job.request.get("clientRequestToken") == params.get("clientRequestToken"):
                    return {"jobArn": job.arn}  # idempotent retry: the same job, not a second one
                if job.name == params["jobName"]:
                    raise s._error("ConflictException", f"A job with name {params['jobName']} already exists",
                                   "CreateModelCustomizationJob")  # fmt: skip
            base = params["baseModelIdentifier"]
            arn = (f"arn:aws:bedrock:{s.region}:{s.account}:model-customization-job/{base}/"
                   f"{short_id(params['jobName'])}")  # fmt: skip
            self._check_roles(params, arn)
            running = sum(1 for j in s.jobs.values() if not j.earlier and not self._ended(j))
            if s.max_running_jobs is not None and running >= s.max_running_jobs:
                # The account quota "(Model customization) Scheduled customization jobs" (Bedrock quotas page).
                raise s._error("ServiceQuotaExceededException",
                               f"You have reached the maximum number of concurrent model customization jobs "
                               f"({s.max_running_jobs}) for this account", "CreateModelCustomizationJob")  # fmt: skip
            s.peak_running_jobs = max(s.peak_running_jobs, running + 1)
            job = s.jobs[arn] = Job(arn, params, s.job_outcome, s.job_checks, s._now(), seconds=s.job_seconds,
                                    now=s._now())  # fmt: skip
            refused = self._refuse_invocation_logs(params)
            if refused:
                job.outcome, job.failure_message = "failed", refused
            if job.seconds is not None and s.later is not None:
                s.later(job.seconds, lambda: self._announce(job))
            return {"jobArn": arn}

    def _ended(self, job: Job) -> bool:
        """Whether ``job`` has ended by the world's clock now (a job ended by looks: when it was seen ended)."""
        s: Any = self
        return s._now() >= job.end_time if job.seconds is not None else job.done

    def _check_roles(self, params: dict[str, Any], job_arn: str) -> None:
        """The service role must let Bedrock assume it and do the job; the caller must be able to use the
        model's key. Bedrock refuses the request otherwise (ValidationException / AccessDeniedException)."""
        s: Any = self
        training = training_source(params["trainingDataConfig"])
        output = params["outputDataConfig"]["s3Uri"]
        distillation = params.get("customizationConfig", {}).get("distillationConfig", {})
        teacher = distillation.get("teacherModelConfig", {}).get("teacherModelIdentifier", "")
        needs = [*(contracts.s3_needs(training, output) if training else []),
                 *contracts.bucket_key_needs(s.bucket_keys, training, output),
                 *contracts.teacher_needs(teacher, s.region, s.account)]  # fmt: skip
        if s.role_problem is not None:
            problem = s.role_problem(params["roleArn"], needs, contracts.trust_context(s.account, job_arn))
            if problem:
                raise s._error("ValidationException", f"The service role cannot run this job: {problem}",
                               "CreateModelCustomizationJob")  # fmt: skip
        key = params.get("customModelKmsKeyId")
        if key and s.caller_problem is not None:
            problem = s.caller_problem(contracts.model_key_needs_for_customizer(key, s.region))
            if problem:
                raise s._error("AccessDeniedException", problem, "CreateModelCustomizationJob")

    def _refuse_invocation_logs(self, params: dict[str, Any]) -> str:
        """Bedrock reads the logs itself and applies ``requestMetadataFilters``: a selection outside its limits
        fails the job in validation (https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-data-prep-option-2.html).
        The simulation profiles the logs as they are in the world's S3, with the same rules the preview uses."""
        s: Any = self
        config = params["trainingDataConfig"].get("invocationLogsConfig")
        if not config or s.s3 is None:
            return ""
        from distill.invocation_logs import ProfileOptions, parse_filter, profile, s3_log_files

        filters = config.get("requestMetadataFilters")
        teacher = (params.get("customizationConfig", {}).get("distillationConfig", {})
                   .get("teacherModelConfig", {}).get("teacherModelIdentifier"))  # fmt: skip
        options = ProfileOptions(selection=parse_filter(filters) if filters else None, teacher=teacher,
                                 use_prompt_response=bool(config.get("usePromptResponse")))  # fmt: skip
        try:
            found = profile(s3_log_files(s.s3, config["invocationLogSource"]["s3Uri"]), options, on_invalid="drop")
        except ValueError as error:
            return f"Invalid invocation logs: {error}"
        return "" if found.ok else f"Data validation failed: {found.verdict()}"

    def get_model_customization_job(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("GetModelCustomizationJob", params)
        with s._lock:
            job = self._find_job(params["jobIdentifier"])
            job.checks += 1
            job.now = s._now()
            answer = self._describe(job)
            if job.done and job.seconds is None:
                self._announce(job)  # a job that ends by being looked at ends now
            return answer

    def stop_model_customization_job(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("StopModelCustomizationJob", params)
        with s._lock:
            job = self._find_job(params["jobIdentifier"])
            job.now = s._now()
            if job.done or job.stopping:  # "Stops an active model customization job" (API
                # reference): one already ended or stopping is refused; the code is our guess
                raise s._error("ValidationException", f"Job {job.arn} is not in progress", "StopModelCustomizationJob")
            # It is Stopping for a while (still holding its place in the jobs quota), then Stopped, and says so by
            # its state-change event like any other end.
            job.outcome, job.stopping = "stopped", True
            job.seconds = max(0.0, job.now - job.created) + STOPPING_SECONDS
            if s.later is not None:
                s.later(STOPPING_SECONDS, lambda: self._announce(job))
            return {}

    def _announce(self, job: Job) -> None:
        """Bedrock's "Model Customization Job State Change" event for the job's end (best effort: the world may
        drop it, as Bedrock may)."""
        s: Any = self
        job.now = max(job.now, s._now())
        if job.announced or s.on_job_event is None:
            return
        job.announced = True
        status = self._describe(job)
        detail = {"version": "0.0", "jobName": job.name, "jobArn": job.arn, "jobStatus": status["status"],
                  "outputModelName": job.request["customModelName"], "roleArn": job.request["roleArn"],
                  "creationTime": status["creationTime"].isoformat(), "lastModifiedTime": s._time(s._now()).isoformat(),
                  "trainingDataConfig": job.request["trainingDataConfig"],
                  "outputDataConfig": job.request["outputDataConfig"]}  # fmt: skip
        if status.get("outputModelArn"):
            detail["outputModelArn"] = status["outputModelArn"]
        if status.get("failureMessage"):
            detail["failureMessage"] = status["failureMessage"]
        s.on_job_event(job.arn, detail)

    def _find_job(self, identifier: str) -> Job:
        s: Any = self
        for job in s.jobs.values():
            if identifier in (job.arn, job.name):
                return job  # type: ignore[no-any-return]
        raise s._error("ResourceNotFoundException", f"Job {identifier} not found", "GetModelCustomizationJob")

    def model_arn(self, job: Job) -> str:
        s: Any = self
        return f"arn:aws:bedrock:{s.region}:{s.account}:custom-model/{job.request['baseModelIdentifier']}/{short_id(job.name)}"

    def completed_model(self, model_arn: str) -> Job | None:
        """The job whose completed output is ``model_arn`` (only that exists as a custom model)."""
        s: Any = self
        return next((j for j in s.jobs.values() if j.done and j.outcome == "completed"
                     and self.model_arn(j) == model_arn), None)  # fmt: skip

    def _describe(self, job: Job) -> dict[str, Any]:
        s: Any = self
        created = s._time(job.created)
        # Phases complete one by one as checks go by, like the real statusDetails.
        progress = min(len(_PHASES), int(job.progress * len(_PHASES)))
        details: dict[str, Any] = {}
        for index, phase in enumerate(_PHASES):
            if job.done and job.outcome != "completed" and index >= 1:
                state = "Failed" if job.outcome == "failed" else "Stopped"
            elif index < progress or (job.done and job.outcome == "completed"):
                state = "Completed"
            elif index == progress:
                state = "InProgress"
            else:
                state = "NotStarted"
            details[phase] = {"status": state, "creationTime": created, "lastModifiedTime": s._time(s._now())}
        if job.done:
            status = {"completed": "Completed", "failed": "Failed", "stopped": "Stopped"}[job.outcome]
        else:
            status = "Stopping" if job.stopping else "InProgress"
        answer: dict[str, Any] = {
            "jobArn": job.arn, "jobName": job.name, "outputModelName": job.request["customModelName"],
            "clientRequestToken": job.request.get("clientRequestToken", ""), "roleArn": job.request["roleArn"],
            "status": status, "statusDetails": details, "creationTime": created,
            "lastModifiedTime": s._time(s._now()),
            "baseModelArn": f"arn:aws:bedrock:{s.region}::foundation-model/{job.request['baseModelIdentifier']}",
            "trainingDataConfig": job.request["trainingDataConfig"],
            "validationDataConfig": job.request.get("validationDataConfig", {"validators": []}),
            "outputDataConfig": job.request["outputDataConfig"],
            "customizationType": job.request.get("customizationType", "FINE_TUNING"),
        }  # fmt: skip
        if "customizationConfig" in job.request:
            answer["customizationConfig"] = job.request["customizationConfig"]
        if job.done:
            answer["endTime"] = s._time(job.end_time)
            if status == "Completed":
                answer["outputModelArn"] = self.model_arn(job)
                self._write_outputs(job)
            else:
                answer["failureMessage"] = job.failure_message or FAILURE_MESSAGES[job.outcome]
        return answer

    def _write_outputs(self, job: Job) -> None:
        s: Any = self
        if s.s3 is None or job.earlier:
            return
        uri = job.request["outputDataConfig"]["s3Uri"]
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        base = f"{prefix}{job.arn.rsplit('/', 1)[-1]}/"
        metrics = "step_number,epoch_number,training_loss\n" + "".join(
            f"{step},{step // 10},{2.5 / (1 + step / 20):.4f}\n" for step in range(1, 51)
        )
        s.s3.put_object(Bucket=bucket, Key=f"{base}training_artifacts/step_wise_training_metrics.csv", Body=metrics)
        s.s3.put_object(Bucket=bucket, Key=f"{base}distillation_data/prompt_insights.json",
                        Body=b'{"promptsReceived": 120, "promptsUsed": 118, "responsesGenerated": 118}')  # fmt: skip
