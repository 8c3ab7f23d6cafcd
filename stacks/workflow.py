"""The state machine: check settings, prepare the data, then submit -> wait -> check -> choice (twice).

Each task returns the fields the next Choice or Wait reads (``status``, ``waitSeconds``); the growing wait
comes from the handlers (distill.polling), so a job that runs for days adds few history events.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.config import ThrottleRetry
from stacks.constructs.functions import PipelineFunctions

# Transient Lambda service errors (we turn off the CDK's default retry to state them explicitly).
LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
THROTTLED = "BedrockThrottled"  # distill.errors.BedrockThrottled; every other error fails the run at once
RUN = {"run.$": "$.run"}


class DistillationWorkflow(Construct):
    def __init__(self, scope: Construct, id: str, *, functions: PipelineFunctions, throttle: ThrottleRetry) -> None:
        super().__init__(scope, id)
        fn = functions

        def task(name: str, function: lambda_.Function, payload: dict, result_path: str | None,
                 bedrock: bool = False) -> tasks.LambdaInvoke:  # fmt: skip
            """A Lambda task with our retries and a timeout a little above the function's own."""
            step = tasks.LambdaInvoke(
                self, name, lambda_function=function, payload=sfn.TaskInput.from_object(payload),
                payload_response_only=True, retry_on_service_exceptions=False, result_path=result_path,
                task_timeout=sfn.Timeout.duration(function.timeout.plus(Duration.seconds(30))),
            )  # fmt: skip
            step.add_retry(errors=LAMBDA_ERRORS, interval=Duration.seconds(2), max_attempts=6, backoff_rate=2,
                           max_delay=Duration.seconds(60), jitter_strategy=sfn.JitterType.FULL)  # fmt: skip
            if bedrock:
                step.add_retry(
                    errors=[THROTTLED], interval=Duration.seconds(throttle.interval_seconds),
                    max_attempts=throttle.max_attempts, backoff_rate=throttle.backoff_rate,
                    max_delay=Duration.seconds(throttle.max_delay_seconds), jitter_strategy=sfn.JitterType.FULL,
                )  # fmt: skip
            return step

        def fail(name: str, error: str, cause_path: str | None = None) -> sfn.Fail:
            return sfn.Fail(self, name, error=error, cause_path=cause_path)

        def status_is(path: str, *values: str) -> sfn.Condition:
            conditions = [sfn.Condition.string_equals(path, value) for value in values]
            return conditions[0] if len(conditions) == 1 else sfn.Condition.or_(*conditions)

        execution = {"input.$": "$", "execution": {"arn.$": "$$.Execution.Id", "name.$": "$$.Execution.Name"}}
        check_settings = task("Check run settings", fn.check_run_settings, execution, result_path=None)
        prepare = task("Prepare dataset", fn.prepare_dataset, RUN, "$.dataset")
        start_job = task("Start distillation job", fn.start_job, RUN, "$.job", bedrock=True)
        wait_job = sfn.Wait(self, "Wait for the job", time=sfn.WaitTime.seconds_path("$.job.waitSeconds"))
        check_job = task("Check distillation job", fn.check_job, {**RUN, "job.$": "$.job"}, "$.job", bedrock=True)

        provision = task("Create provisioned throughput", fn.provision_throughput, {**RUN, "job.$": "$.job"},
                         "$.throughput", bedrock=True)  # fmt: skip
        wait_pt = sfn.Wait(self, "Wait for the throughput", time=sfn.WaitTime.seconds_path("$.throughput.waitSeconds"))
        check_pt = task("Check provisioned throughput", fn.check_throughput, {**RUN, "throughput.$": "$.throughput"},
                        "$.throughput", bedrock=True)  # fmt: skip
        # A JSON null for "Summarize run" (jsii drops None from Result.from_object, so parse one).
        no_throughput = sfn.Pass(self, "No throughput requested", result_path="$.throughput",
                                 parameters={"provisionedModelArn.$": "States.StringToJson('null')"})  # fmt: skip

        summarize = sfn.Pass(self, "Summarize run", parameters={
            "jobArn.$": "$.job.jobArn",
            "customModelArn.$": "$.job.outputModelArn",
            "provisionedModelArn.$": "$.throughput.provisionedModelArn",
            "runId.$": "$.run.runId",
            "reportsUri.$": "$.run.reportsUri",
        }).next(sfn.Succeed(self, "Distillation finished"))  # fmt: skip

        throughput_ready = (
            sfn.Choice(self, "Is the throughput ready?")
            .when(status_is("$.throughput.status", "Creating", "Updating"), wait_pt)
            .when(status_is("$.throughput.status", "InService"), summarize)
            .when(status_is("$.throughput.status", "Failed"),
                  fail("Provisioned throughput failed", "ProvisioningFailed", "$.throughput.failureMessage"))
            .otherwise(fail("Unexpected throughput status", "UnexpectedThroughputStatus"))
        )  # fmt: skip
        provision_wanted = (
            sfn.Choice(self, "Provision throughput?")
            .when(sfn.Condition.boolean_equals("$.run.provision", True),
                  provision.next(wait_pt).next(check_pt).next(throughput_ready))
            .otherwise(no_throughput.next(summarize))
        )  # fmt: skip
        job_finished = (
            sfn.Choice(self, "Is the job finished?")
            .when(status_is("$.job.status", "InProgress", "Stopping"), wait_job)
            .when(status_is("$.job.status", "Completed"), provision_wanted)
            .when(status_is("$.job.status", "Failed"),
                  fail("Distillation job failed", "DistillationJobFailed", "$.job.failureMessage"))
            .when(status_is("$.job.status", "Stopped"),
                  fail("Distillation job stopped", "DistillationJobStopped", "$.job.failureMessage"))
            .otherwise(fail("Unexpected job status", "UnexpectedJobStatus"))
        )  # fmt: skip

        self.definition = (
            check_settings.next(prepare).next(start_job).next(wait_job).next(check_job).next(job_finished)
        )
