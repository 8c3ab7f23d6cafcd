"""The synthesized state machine, run offline end to end: success, job outcomes, Bedrock errors, bad data,
bad input, and at-most-once job creation."""

from __future__ import annotations

import json

import pytest

from distill_cli.offline.bedrock import DEPLOYMENT_FAILURE, FAILURE_MESSAGES
from tests.workflow.conftest import BAD_LINE, RECORDS

CREATE_JOB = "CreateModelCustomizationJob"
CREATE_PT = "CreateProvisionedModelThroughput"
CREATE_DEPLOYMENT = "CreateCustomModelDeployment"


def _failures(result, state: str) -> list[dict]:
    """The failed attempts of a task state (Lambda errors and Lambda service errors)."""
    failed, current = [], ""
    for event in result.history:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        if event["type"] in ("LambdaFunctionFailed", "TaskFailed") and current == state:
            details = next(v for k, v in event.items() if k.endswith("EventDetails"))
            failed.append(details)
    return failed


# --- success -------------------------------------------------------------------------------------------
def test_given_valid_dataset_when_run_without_throughput_then_succeeds_with_a_custom_model(offline, dataset_file):
    pipeline = offline(job_checks=2)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    assert result.output["jobArn"] == next(iter(pipeline.bedrock.jobs))
    assert result.output["customModelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
    assert result.output["provisionedModelArn"] is None and result.output["deploymentArn"] is None
    assert pipeline.bedrock.calls_of(CREATE_PT) == [] and pipeline.bedrock.calls_of(CREATE_DEPLOYMENT) == []
    assert "No serving requested" in result.states_entered()
    assert "Try the distilled model" not in result.states_entered()
    # The job ends at its second look: the first look (as the run starts waiting), then the backstop's after 10
    # minutes -- with no other task in between.
    entered = next(i for i, e in enumerate(result.history)
                   if e.get("stateEnteredEventDetails", {}).get("name") == "Wait for the job to end (first hour)")  # fmt: skip
    waits = [e for e in result.history[entered:] if e["type"] in ("TaskScheduled", "TaskTimedOut", "TaskSucceeded")]
    assert [e["type"] for e in waits][:4] == ["TaskScheduled", "TaskTimedOut", "TaskScheduled", "TaskSucceeded"]
    assert (waits[1]["timestamp"] - waits[0]["timestamp"]).total_seconds() == pytest.approx(600, abs=1)
    assert result.states_entered().count("Wait for the job to end (first hour)") == 1
    # The job was asked to train on what Prepare dataset wrote, and that file is all converted records.
    (request,) = pipeline.bedrock.calls_of(CREATE_JOB)
    assert request["customizationType"] == "DISTILLATION"
    dataset_uri = request["trainingDataConfig"]["s3Uri"]
    dataset_key = dataset_uri.removeprefix(f"s3://{pipeline.bucket}/")
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=dataset_key)["Body"].read().decode()
    assert len(body.splitlines()) == RECORDS
    assert any(k.startswith("reports/") and k.endswith("validation-report.json") for k in pipeline.keys("reports/"))
    assert pipeline.keys("jobs/"), "the completed job writes its metrics under jobs/"


def test_given_provisioning_requested_when_run_then_the_model_is_behind_throughput_in_service(offline, dataset_file):
    pipeline = offline(throughput_checks=2)
    key = pipeline.upload(dataset_file)

    # (The evaluation that may follow has its own tests: test_workflow_evaluation.py.)
    result = pipeline.run({"dataset": key, "provisionedThroughput": {"modelUnits": 1}, "evaluation": False})

    assert result.status == "SUCCEEDED", result.message
    (throughput,) = pipeline.bedrock.throughputs.values()
    assert result.output["provisionedModelArn"] == throughput.arn
    assert throughput.request["modelId"] == result.output["customModelArn"]
    assert throughput.request["modelUnits"] == 1
    assert "commitmentDuration" not in throughput.request  # no commitment unless asked for
    assert result.states_entered().count("Check provisioned throughput") == 2
    # Then the notebook's last step: one prompt through the distilled model, kept in the run summary.
    assert result.states_entered()[-4:] == ["Try the distilled model", "Evaluate the student?", "Write run summary",
                                            "Distillation finished"]  # fmt: skip
    summary = pipeline.read_json(result.output["summaryUri"].removeprefix(f"s3://{pipeline.bucket}/"))
    assert summary["status"] == "SUCCEEDED"
    assert summary["provisionedModelArn"] == throughput.arn
    assert summary["smokeTest"]["answer"].startswith("(distilled model)")
    assert summary["dataset"]["recordsWritten"] == RECORDS


def test_given_an_on_demand_deployment_requested_when_run_then_the_model_is_deployed_and_tried(offline, dataset_file):
    pipeline = offline(deployment_checks=2)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "onDemandDeployment": {"description": "support bot"}, "evaluation": False})

    assert result.status == "SUCCEEDED", result.message
    (deployment,) = pipeline.bedrock.deployments.values()
    assert result.output["deploymentArn"] == deployment.arn
    assert result.output["provisionedModelArn"] is None
    assert pipeline.bedrock.calls_of(CREATE_PT) == []
    assert deployment.request["modelArn"] == result.output["customModelArn"]
    assert deployment.request["description"] == "support bot"
    assert deployment.status == "Active" and not deployment.deleted
    entered = result.states_entered()
    assert entered.count("Check the deployment") == 2 and entered.count("Wait for the deployment") == 2
    assert entered[-5:] == ["Is the deployment active?", "Try the distilled model", "Evaluate the student?",
                            "Write run summary", "Distillation finished"]  # fmt: skip
    # The smoke test called the deployment itself (the simulator answers only for an active deployment).
    (tried,) = pipeline.invocations_of("try_model")
    assert tried.event["serving"]["modelId"] == deployment.arn
    assert tried.result["error"] is None
    summary = pipeline.read_json(result.output["summaryUri"].removeprefix(f"s3://{pipeline.bucket}/"))
    assert summary["serving"] == "on-demand"
    assert summary["deploymentArn"] == deployment.arn
    assert summary["onDemandDeployment"]["status"] == "Active"
    assert summary["smokeTest"]["answer"].startswith("(distilled model)")
    assert any("deployment Active" in line for line in result.trace)


def test_given_the_deployment_fails_when_run_then_the_execution_fails_with_bedrocks_message(offline, dataset_file):
    pipeline = offline(deployment_fails=True)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "onDemandDeployment": {}})

    assert result.status == "FAILED"
    assert result.error == "DeploymentFailed"
    assert result.cause == DEPLOYMENT_FAILURE
    assert result.states_entered()[-1] == "Deployment failed"
    assert "Try the distilled model" not in result.states_entered()
    (deployment,) = pipeline.bedrock.deployments.values()
    assert not deployment.deleted  # billed per token: the cost guard leaves it to `distill cleanup`
    (notice,) = [d for d in result.deliveries if d.module == "notify_failure"]
    assert notice.ok, notice.error
    assert notice.result["failedState"] == "Deployment failed" and notice.result["cause"] == DEPLOYMENT_FAILURE


def test_given_both_ways_of_serving_when_run_then_check_run_settings_fails_naming_both(offline, dataset_file):
    pipeline = offline()
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "onDemandDeployment": {}, "provisionedThroughput": {}})

    assert result.status == "FAILED" and result.error == "InvalidRunInput"
    assert "provisionedThroughput" in result.cause and "onDemandDeployment" in result.cause
    assert pipeline.bedrock.jobs == {}


def test_given_a_run_when_traced_then_every_state_is_shown_entered_and_left_with_its_facts(offline, dataset_file):
    pipeline = offline(job_checks=2)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "onDemandDeployment": {}, "evaluation": False})

    text = "\n".join(result.trace)
    for state in ("Check run settings", "Prepare dataset", "Start distillation job",
                  "Wait for the job to end (first hour)",
                  "Deploy the model on demand", "Try the distilled model", "Write run summary"):  # fmt: skip
        assert f"> {state}" in text
        assert f"< {state}" in text
    assert f"{RECORDS} records converted" in text
    assert "validation Completed" in text and "training" in text
    assert "looked at the job: InProgress; waiting for its end" in text
    assert "Wait for the job to end (first hour): no event yet; looking again" in text
    assert result.output["jobArn"] in text
    assert "(on demand, billed per token)" in text
    assert "answered '(distilled model)" in text
    assert f"summary -> {result.output['summaryUri']}" in text
    ended = [line for line in result.trace if line.endswith("execution succeeded")]
    assert len(ended) == 1 and result.trace.index(ended[0]) >= len(result.trace) - 3  # then what the end's events did


# --- the job ends badly --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outcome", "error"), [("failed", "DistillationJobFailed"), ("stopped", "DistillationJobStopped")]
)
def test_given_the_job_ends_badly_when_run_then_the_execution_fails_with_bedrocks_message(
    offline, dataset_file, outcome, error
):
    pipeline = offline(job_outcome=outcome)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "provisionedThroughput": {"modelUnits": 1}})

    assert result.status == "FAILED"
    assert result.error == error
    assert FAILURE_MESSAGES[outcome] in result.cause
    assert pipeline.bedrock.calls_of(CREATE_PT) == []  # nothing to provision


# --- Bedrock errors --------------------------------------------------------------------------------------
def test_given_bedrock_throttles_twice_when_the_job_is_started_then_it_is_retried_and_one_job_exists(
    offline, dataset_file
):
    pipeline = offline()
    pipeline.bedrock.fail_next(CREATE_JOB, "ThrottlingException", "ThrottlingException")
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    failures = _failures(result, "Start distillation job")
    assert [f["error"] for f in failures] == ["BedrockThrottled", "BedrockThrottled"]
    assert len(pipeline.bedrock.calls_of(CREATE_JOB)) == 3
    assert len(pipeline.bedrock.jobs) == 1


def test_given_the_quota_in_use_elsewhere_when_the_job_is_started_then_the_run_backs_off_and_queues_again(
    offline, dataset_file
):
    # The run held a job slot, yet Bedrock refused for the quota: another tool in the account uses it.
    pipeline = offline()
    pipeline.bedrock.fail_next(CREATE_JOB, "ServiceQuotaExceededException")
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "evaluation": False})

    assert result.status == "SUCCEEDED", result.message
    states = result.states_entered()
    assert states.count("Wait for a job slot") == 2 and states.count("Start distillation job") == 2
    assert "Back off and queue again" in states and "Wait before queueing again" in states
    (waited,) = [e for e in result.history if e["type"] == "WaitStateEntered"
                 and e["stateEnteredEventDetails"]["name"] == "Wait before queueing again"]  # fmt: skip
    (left,) = [e for e in result.history if e["type"] == "WaitStateExited"
               and e["stateExitedEventDetails"]["name"] == "Wait before queueing again"]  # fmt: skip
    assert (left["timestamp"] - waited["timestamp"]).total_seconds() == 300  # the first back-off: 5 minutes
    assert len(pipeline.bedrock.calls_of(CREATE_JOB)) == 2 and len(pipeline.bedrock.jobs) == 1


def test_given_provisioned_throughput_fails_when_run_then_the_execution_fails_with_the_reason(offline, dataset_file):
    pipeline = offline(throughput_fails=True)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "provisionedThroughput": {"modelUnits": 1}})

    assert result.status == "FAILED"
    assert result.error == "ProvisioningFailed"
    assert "Insufficient capacity" in result.cause
    assert len(pipeline.bedrock.jobs) == 1


# --- the user's data and input -------------------------------------------------------------------------
def test_given_a_dataset_with_a_broken_line_when_run_then_it_fails_naming_the_line_and_no_job_is_created(
    offline, invalid_dataset_file
):
    pipeline = offline()
    key = pipeline.upload(invalid_dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "FAILED"
    assert result.error == "DatasetInvalid"
    assert f"line {BAD_LINE}" in result.message
    assert pipeline.bedrock.calls_of(CREATE_JOB) == []
    assert "Start distillation job" not in result.states_entered()
    assert [k for k in pipeline.keys("reports/") if k.endswith("validation-report.json")]
    assert pipeline.keys("datasets/") == []  # no half-converted dataset is left behind


def test_given_an_unknown_input_field_when_run_then_check_run_settings_fails_naming_the_field(offline, dataset_file):
    pipeline = offline()
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "teacherModel": "amazon.nova-pro-v1:0"})

    assert result.status == "FAILED"
    assert result.error == "InvalidRunInput"
    assert "teacherModel" in result.message
    assert result.states_entered()[0] == "Check run settings"
    assert "Prepare dataset" not in result.states_entered()
    assert pipeline.bedrock.calls_of(CREATE_JOB) == []


# --- at most one job -------------------------------------------------------------------------------------
def test_given_the_same_execution_started_twice_when_run_then_one_execution_and_one_job(offline, dataset_file):
    pipeline = offline()
    key = pipeline.upload(dataset_file)
    run_input = {"dataset": key}

    first = pipeline.start(run_input, name="drop-support-tickets")
    second = pipeline.start(run_input, name="drop-support-tickets")
    result = pipeline.wait(first)

    assert second == first
    assert result.status == "SUCCEEDED", result.message
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]
    assert len(executions) == 1
    assert len(pipeline.bedrock.calls_of(CREATE_JOB)) == 1
    assert len(pipeline.bedrock.jobs) == 1


def test_given_the_lambda_service_fails_after_the_job_was_created_when_retried_then_still_one_job(
    offline, dataset_file
):
    pipeline = offline()
    pipeline.fail_invocation("start_job", "ServiceException", after_handler=True)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    assert [f["error"] for f in _failures(result, "Start distillation job")] == ["Lambda.ServiceException"]
    assert len(pipeline.invocations_of("start_job")) == 2
    # Both calls reached Bedrock with the same client request token: one job.
    calls = pipeline.bedrock.calls_of(CREATE_JOB)
    assert len(calls) == 2
    assert calls[0]["clientRequestToken"] == calls[1]["clientRequestToken"]
    assert len(pipeline.bedrock.jobs) == 1
    assert result.output["jobArn"] == next(iter(pipeline.bedrock.jobs))


def test_given_the_harness_when_set_up_then_it_runs_the_synthesized_definition(offline, synthesized):
    pipeline = offline()
    template = synthesized.templates[synthesized.pipeline_stack]
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    described = pipeline.sfn.describe_state_machine(stateMachineArn=pipeline.state_machine_arn)

    deployed = json.loads(described["definition"])
    assert deployed == pipeline.definition
    assert set(deployed["States"]) >= {"Check run settings", "Prepare dataset", "Start distillation job"}
    # Every Lambda task points at a function that exists in the simulated account.
    functions = {f.arn for f in pipeline.deployment.functions.values()}
    tasks = [s["Parameters"]["FunctionName"] if s["Resource"].startswith("arn:aws:states:::") else s["Resource"]
             for s in deployed["States"].values() if s["Type"] == "Task"]  # fmt: skip
    assert tasks and all(t in functions for t in tasks)
    assert "Fn::Join" in machine["Properties"]["DefinitionString"]
