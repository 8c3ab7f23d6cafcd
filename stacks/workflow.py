"""The state machine: check settings, prepare the data, start the job and wait for it to end, then
submit -> wait -> check -> choice for whatever serves the model (provisioned throughput or an on-demand
deployment).

The job's end comes by event: "Wait for the job to end" is a callback task whose token Bedrock's state-change
event answers (distill.job_waits). Events are best effort, so the task times out after the backstop interval and
is retried, each retry one look at the job: every ten minutes in the first hour, then every half hour. A retry
adds four events to the history, so a seven-day job stays under 1,500 however its end is noticed. The serving
loops' growing wait comes from the handlers (distill.polling).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.config import JobBackstop, ThrottleRetry
from stacks.constructs.functions import PipelineFunctions
from stacks.evaluation_states import EvaluationStates

# Transient Lambda service errors (the CDK's default retry is turned off so ours is the only one).
LAMBDA_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",  # AWS's best-practice list for Lambda tasks has it too
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
THROTTLED = "BedrockThrottled"  # distill.errors.BedrockThrottled; every other error fails the run at once
SLOTS_BUSY = "JobSlotsBusy"  # distill.errors.JobSlotsBusy: the queue's ledger kept changing; try again
QUOTA_IN_USE = "JobQuotaInUse"  # distill.errors.JobQuotaInUse: Bedrock refused the job for the quota anyway
SLOT_BACKSTOP_SECONDS = 3600  # a run waiting in line looks at the queue itself once an hour
TIMEOUT = "States.Timeout"
MAX_ATTEMPTS = 99_999_999  # Step Functions' largest MaxAttempts: the backstop looks until the job ends
EXECUTION = {"input.$": "$", "execution": {"arn.$": "$$.Execution.Id", "name.$": "$$.Execution.Name"}}
RUN = {"run.$": "$.run"}
RUN_AND_JOB = {**RUN, "job.$": "$.job"}
RUN_AND_SERVING = {**RUN, "serving.$": "$.serving"}
# The smoke test's prompt comes from the dataset the run kept ($.dataset.datasetUri; none when a run from logs
# kept no copy of its selection).
TRY_INPUT = {**RUN_AND_SERVING, "dataset.$": "$.dataset"}


class DistillationWorkflow(Construct):
    def __init__(self, scope: Construct, id: str, *, functions: PipelineFunctions, throttle: ThrottleRetry,
                 backstop: JobBackstop, default_system_prompt: str = "", evaluation_concurrency: int = 4) -> None:  # fmt: skip
        super().__init__(scope, id)
        fn, task = functions, _TaskMaker(self, throttle)

        # The default system prompt rides in the definition (up to 20,000 characters): a function's environment
        # holds 4 KB in all.
        settings_input = {**EXECUTION, "defaults": {"systemPrompt": default_system_prompt}}
        check_settings = task("Check run settings", fn.check_run_settings, settings_input)  # output: {"run": ...}
        prepare = task("Prepare dataset", fn.prepare_dataset, RUN, "$.dataset")
        # A run from Bedrock's invocation logs: see what the filter selects, and stop before paying if too little.
        preview = task("Preview the invocation logs", fn.preview_invocation_logs, RUN, "$.dataset")
        # The job queue: at most maxConcurrentJobs jobs at once; the others wait in line, their task token kept
        # in the queue's ledger and answered when a slot frees up (distill.job_slot_store).
        join_queue = sfn.Pass(self, "Join the job queue", result=sfn.Result.from_object({"attempt": 0}),
                              result_path="$.backoff")  # fmt: skip
        wait_slot = task.callback("Wait for a job slot", fn.take_job_slot, RUN, "$.slot",
                                  every_seconds=SLOT_BACKSTOP_SECONDS, attempts=MAX_ATTEMPTS, busy=True)  # fmt: skip
        back_off = task("Back off and queue again", fn.back_off_job_slot, {**RUN, "attempt.$": "$.backoff.attempt"},
                        "$.backoff", busy=True)  # fmt: skip
        wait_again = sfn.Wait(self, "Wait before queueing again", time=sfn.WaitTime.seconds_path("$.backoff.waitSeconds"))
        release = task("Give back the job slot", fn.release_job_slot, RUN, "$.slotReleased", busy=True)
        start_job = task("Start distillation job", fn.start_job, RUN, "$.job", bedrock=True)
        # Bedrock refused the job for the quota although the run held a slot (another tool uses it): back off.
        start_job.add_catch(back_off, errors=[QUOTA_IN_USE], result_path="$.quotaRefusal")
        back_off.next(wait_again).next(wait_slot)
        # The job's end by event, with a look at the job as the backstop (first hour, then every half hour).
        wait_first_hour = task.callback("Wait for the job to end (first hour)", fn.await_job, RUN_AND_JOB, "$.job",
                                        every_seconds=backstop.first_hour_every_seconds,
                                        attempts=3600 // backstop.first_hour_every_seconds - 1)  # fmt: skip
        wait_job = task.callback("Wait for the job to end", fn.await_job, RUN_AND_JOB, "$.job",
                                 every_seconds=backstop.every_seconds, attempts=MAX_ATTEMPTS)  # fmt: skip

        # Both serving loops keep their state in $.serving; its modelId is what "Try the distilled model" calls.
        provision = task("Create provisioned throughput", fn.provision_throughput, RUN_AND_JOB, "$.serving",
                         bedrock=True)  # fmt: skip
        wait_pt = sfn.Wait(self, "Wait for the throughput", time=sfn.WaitTime.seconds_path("$.serving.waitSeconds"))
        check_pt = task("Check provisioned throughput", fn.check_throughput, RUN_AND_SERVING, "$.serving",
                        bedrock=True)  # fmt: skip
        deploy = task("Deploy the model on demand", fn.deploy_on_demand, RUN_AND_JOB, "$.serving", bedrock=True)
        wait_od = sfn.Wait(self, "Wait for the deployment", time=sfn.WaitTime.seconds_path("$.serving.waitSeconds"))
        check_od = task("Check the deployment", fn.check_deployment, RUN_AND_SERVING, "$.serving", bedrock=True)
        # A real JSON null for "Write run summary" (jsii drops a None given to Result.from_object).
        no_serving = sfn.Pass(self, "No serving requested", result_path="$.serving",
                              parameters={"modelId.$": "States.StringToJson('null')"})  # fmt: skip
        # The notebook's "run inference with the distilled model", once it can answer. A try still throttled after
        # its retries is reported in the summary, not a failed run: the model is served and billed either way.
        try_model = task("Try the distilled model", fn.try_model, TRY_INPUT, "$.smokeTest", bedrock=True)
        # The summary JSON next to the run's reports, and the success notice; its result is the run's output.
        summarize = task("Write run summary", fn.finish_run, {"state.$": "$"}, result_path=None).next(
            sfn.Succeed(self, "Distillation finished")
        )
        # Then: is the student good enough? (stacks/evaluation_states.py: compare, then promote or remove.)
        evaluate = EvaluationStates(self, fn, task, summarize=summarize, max_concurrency=evaluation_concurrency)
        try_model.add_catch(evaluate.start, errors=[THROTTLED], result_path="$.smokeTest")
        try_and_summarize = try_model.next(evaluate.start)
        throughput_ready = (
            sfn.Choice(self, "Is the throughput ready?")
            .when(_status("$.serving.status", "Creating", "Updating"), wait_pt)
            .when(_status("$.serving.status", "InService"), try_and_summarize)
            .when(_status("$.serving.status", "Failed"),
                  self._fail("Provisioned throughput failed", "ProvisioningFailed", "$.serving.failureMessage"))
            .otherwise(self._fail("Unexpected throughput status", "UnexpectedThroughputStatus"))
        )  # fmt: skip
        deployment_active = (
            sfn.Choice(self, "Is the deployment active?")
            .when(_status("$.serving.status", "Creating"), wait_od)
            .when(_status("$.serving.status", "Active"), try_and_summarize)
            .when(_status("$.serving.status", "Failed"),
                  self._fail("Deployment failed", "DeploymentFailed", "$.serving.failureMessage"))
            .otherwise(self._fail("Unexpected deployment status", "UnexpectedDeploymentStatus"))
        )  # fmt: skip
        # distill.run_request.Serving: the run input allows exactly these three.
        serving_chosen = (
            sfn.Choice(self, "How should the model be served?")
            .when(_status("$.run.serving", "provisioned-throughput"),
                  provision.next(wait_pt).next(check_pt).next(throughput_ready))
            .when(_status("$.run.serving", "on-demand"), deploy.next(wait_od).next(check_od).next(deployment_active))
            .when(_status("$.run.serving", "none"), no_serving.next(summarize))
            .otherwise(self._fail("Unexpected serving choice", "UnexpectedServingChoice"))
        )  # fmt: skip
        job_finished = (
            sfn.Choice(self, "Is the job finished?")
            .when(_status("$.job.status", "InProgress", "Stopping"), wait_job)
            .when(_status("$.job.status", "Completed"), release.next(serving_chosen))
            .when(_status("$.job.status", "Failed"),
                  self._fail("Distillation job failed", "DistillationJobFailed", "$.job.failureMessage"))
            .when(_status("$.job.status", "Stopped"),
                  self._fail("Distillation job stopped", "DistillationJobStopped", "$.job.failureMessage"))
            .otherwise(self._fail("Unexpected job status", "UnexpectedJobStatus"))
        )  # fmt: skip

        wait_first_hour.add_catch(wait_job, errors=[TIMEOUT], result_path=sfn.JsonPath.DISCARD)
        wait_first_hour.next(job_finished)
        wait_job.next(job_finished)
        # distill.run_request.SourceKind: the run input allows exactly these two.
        source = (
            sfn.Choice(self, "Where does the training data come from?")
            .when(_status("$.run.sourceKind", "dataset"), prepare.next(join_queue))
            .when(_status("$.run.sourceKind", "invocation-logs"), preview.next(join_queue))
            .otherwise(self._fail("Unexpected training data source", "UnexpectedSourceKind"))
        )  # fmt: skip
        join_queue.next(wait_slot).next(start_job).next(wait_first_hour)
        self.definition = check_settings.next(source)

    def _fail(self, name: str, error: str, cause_path: str | None = None) -> sfn.Fail:
        return sfn.Fail(self, name, error=error, cause_path=cause_path)


class _TaskMaker:
    """A Lambda task with our retries and a timeout a little above the function's own."""

    def __init__(self, scope: Construct, throttle: ThrottleRetry) -> None:
        self.scope, self.throttle = scope, throttle

    def __call__(self, name: str, function: lambda_.Function, payload: dict[str, Any], result_path: str | None = None,
                 *, bedrock: bool = False, busy: bool = False) -> tasks.LambdaInvoke:  # fmt: skip
        step = tasks.LambdaInvoke(
            self.scope, name, lambda_function=function, payload=sfn.TaskInput.from_object(payload),
            # The function's return value is the task result (no Payload/StatusCode envelope).
            payload_response_only=True, retry_on_service_exceptions=False, result_path=result_path,
            task_timeout=sfn.Timeout.duration(function.timeout.plus(Duration.seconds(30))),
        )  # fmt: skip
        step.add_retry(errors=LAMBDA_ERRORS, interval=Duration.seconds(2), max_attempts=6, backoff_rate=2,
                       max_delay=Duration.seconds(60), jitter_strategy=sfn.JitterType.FULL)  # fmt: skip
        if bedrock:
            self._throttle_retry(step)
        if busy:
            self._throttle_retry(step, SLOTS_BUSY)
        return step

    def callback(self, name: str, function: lambda_.Function, payload: dict[str, Any], result_path: str, *,
                 every_seconds: int, attempts: int, busy: bool = False) -> tasks.LambdaInvoke:  # fmt: skip
        """A task that waits for its token (``token`` in the payload) for ``every_seconds``; a timeout is retried
        ``attempts`` times, each retry invoking the function again (one more look)."""
        step = tasks.LambdaInvoke(
            self.scope, name, lambda_function=function, result_path=result_path,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN, retry_on_service_exceptions=False,
            payload=sfn.TaskInput.from_object({**payload, "token": sfn.JsonPath.task_token}),
            task_timeout=sfn.Timeout.duration(Duration.seconds(every_seconds)),
        )  # fmt: skip
        # Retried in place (no state re-entered): four history events per look.
        step.add_retry(errors=[TIMEOUT], interval=Duration.seconds(1), max_attempts=attempts, backoff_rate=1)
        step.add_retry(errors=LAMBDA_ERRORS, interval=Duration.seconds(2), max_attempts=6, backoff_rate=2,
                       max_delay=Duration.seconds(60), jitter_strategy=sfn.JitterType.FULL)  # fmt: skip
        self._throttle_retry(step, SLOTS_BUSY if busy else THROTTLED)
        return step

    def _throttle_retry(self, step: tasks.LambdaInvoke, error: str = THROTTLED) -> None:
        t = self.throttle
        step.add_retry(errors=[error], interval=Duration.seconds(t.interval_seconds),
                       max_attempts=t.max_attempts, backoff_rate=t.backoff_rate,
                       max_delay=Duration.seconds(t.max_delay_seconds), jitter_strategy=sfn.JitterType.FULL)  # fmt: skip


def _status(path: str, *values: str) -> sfn.Condition:
    conditions = [sfn.Condition.string_equals(path, value) for value in values]
    return conditions[0] if len(conditions) == 1 else sfn.Condition.or_(*conditions)
