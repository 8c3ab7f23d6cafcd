"""The state machine definition: states by name, transitions, Choice branches, retries and timeouts."""

from __future__ import annotations

import itertools

from distill.errors import NOT_RETRIED, RETRIED, error_name

TASKS = {
    # state -> (function logical id prefix, Parameters, ResultPath (None: replaces the state), calls Bedrock)
    "Check run settings": ("FunctionsCheckRunSettings",
                           {"input.$": "$", "execution": {"arn.$": "$$.Execution.Id", "name.$": "$$.Execution.Name"},
                            "defaults": {"systemPrompt": ""}},
                           None, False),
    "Prepare dataset": ("FunctionsPrepareDataset", {"run.$": "$.run"}, "$.dataset", False),
    "Preview the invocation logs": ("FunctionsPreviewInvocationLogs", {"run.$": "$.run"}, "$.dataset", False),
    "Start distillation job": ("FunctionsStartJob", {"run.$": "$.run"}, "$.job", True),
    # The job queue (distill.job_slot_store).
    "Back off and queue again": ("FunctionsBackOffJobSlot", {"run.$": "$.run", "attempt.$": "$.backoff.attempt"},
                                 "$.backoff", False),
    "Give back the job slot": ("FunctionsReleaseJobSlot", {"run.$": "$.run"}, "$.slotReleased", False),
    # Both serving loops keep their state in $.serving (its modelId is what the smoke test calls).
    "Create provisioned throughput": ("FunctionsProvisionThroughput", {"run.$": "$.run", "job.$": "$.job"},
                                      "$.serving", True),
    "Check provisioned throughput": ("FunctionsCheckThroughput", {"run.$": "$.run", "serving.$": "$.serving"},
                                     "$.serving", True),
    "Deploy the model on demand": ("FunctionsDeployOnDemand", {"run.$": "$.run", "job.$": "$.job"},
                                   "$.serving", True),
    "Check the deployment": ("FunctionsCheckDeployment", {"run.$": "$.run", "serving.$": "$.serving"},
                             "$.serving", True),
    "Try the distilled model": ("FunctionsTryModel", {"run.$": "$.run", "serving.$": "$.serving",
                                                      "dataset.$": "$.dataset"}, "$.smokeTest", True),
    "Write run summary": ("FunctionsFinishRun", {"state.$": "$"}, None, False),
    # Is the student good enough? (stacks/evaluation_states.py)
    "Prepare the evaluation": ("FunctionsPrepareEvaluation", {"run.$": "$.run", "dataset.$": "$.dataset"},
                               "$.evaluation", False),
    "Decide the verdict": ("FunctionsDecideVerdict", {"state.$": "$"}, "$.evaluation.verdict", False),
    "Promote the student": ("FunctionsPromoteStudent", {"run.$": "$.run", "job.$": "$.job"}, "$.promotion", True),
    "Check the promotion": ("FunctionsPromoteStudent", {"run.$": "$.run", "job.$": "$.job",
                                                        "promotion.$": "$.promotion"}, "$.promotion", True),
    "Remove the student's serving": ("FunctionsRemoveServing", {"run.$": "$.run", "serving.$": "$.serving"},
                                     "$.removed", True),
    "Remove the evaluation serving": ("FunctionsRemoveServing", {"run.$": "$.run", "serving.$": "$.serving"},
                                      "$.removed", True),
}  # fmt: skip
EVALUATION = {"Evaluate the student?", "Are there prompts to evaluate?", "Answer and judge the held-out prompts",
              "Did the student earn it?", "Promote behind a deployment?", "Wait for the promotion",
              "Is the promotion done?", "Promotion failed", "Unexpected promotion status", "Student below teacher"}  # fmt: skip
# AWS's best-practice retry list for Lambda tasks (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
LAMBDA_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


# The job's end by event, with a look at the job as the backstop (callback tasks: the token is in the payload).
WAITS = {"Wait for the job to end (first hour)": 600, "Wait for the job to end": 1800}


def _branches(choice: dict) -> dict[str, str]:
    """status value (or 'true') -> next state, for the Choice shapes the workflow uses. Step Functions takes the
    first rule that matches, so a value's branch is that of its first rule; a later rule for it is never taken."""
    out: dict[str, str] = {}
    for rule in choice["Choices"]:
        for condition in rule.get("Or", [rule]):
            value = condition.get("StringEquals", condition.get("BooleanEquals"))
            out.setdefault(str(value).lower() if isinstance(value, bool) else value, rule["Next"])
    out["<otherwise>"] = choice["Default"]
    return out


def test_given_default_config_when_synthesized_then_the_states_are_the_documented_ones(synth):
    states = synth.definition["States"]
    assert synth.definition["StartAt"] == "Check run settings"
    assert set(states) == {
        *TASKS, *WAITS, "Where does the training data come from?", "Unexpected training data source",
        "Is the job finished?", "How should the model be served?",
        "No serving requested", "Unexpected serving choice",
        "Wait for the throughput", "Is the throughput ready?", "Distillation finished",
        "Distillation job failed", "Distillation job stopped", "Unexpected job status",
        "Provisioned throughput failed", "Unexpected throughput status",
        "Wait for the deployment", "Is the deployment active?", "Deployment failed", "Unexpected deployment status",
        *EVALUATION, "Join the job queue", "Wait for a job slot", "Wait before queueing again",
    }  # fmt: skip
    assert "QueryLanguage" not in synth.definition  # JSONPath, the default


def test_given_default_config_when_synthesized_then_tasks_call_their_function_with_the_documented_state(synth):
    states = synth.definition["States"]
    for name, (function, parameters, result_path, _) in TASKS.items():
        state = states[name]
        assert state["Type"] == "Task"
        # payload_response_only: the function ARN itself, so the Lambda result is the task result.
        assert state["Resource"].startswith(f"<{function}") and state["Resource"].endswith(".Arn>"), name
        assert state["Parameters"] == parameters, name
        assert state.get("ResultPath") == result_path, name
        assert "ResultSelector" not in state and "OutputPath" not in state, name


def test_given_default_config_when_synthesized_then_the_happy_path_runs_in_order(synth):
    states = synth.definition["States"]
    order = ["Check run settings", "Where does the training data come from?"]
    for here, there in itertools.pairwise(order):
        assert states[here]["Next"] == there
    assert _branches(states["Where does the training data come from?"]) == {
        "dataset": "Prepare dataset", "invocation-logs": "Preview the invocation logs",
        "<otherwise>": "Unexpected training data source"}  # fmt: skip
    assert states["Where does the training data come from?"]["Choices"][0]["Variable"] == "$.run.sourceKind"
    assert states["Unexpected training data source"] == {"Type": "Fail", "Error": "UnexpectedSourceKind"}
    order = ["Prepare dataset", "Join the job queue", "Wait for a job slot", "Start distillation job",
             "Wait for the job to end (first hour)", "Is the job finished?"]  # fmt: skip
    for here, there in itertools.pairwise(order):
        assert states[here]["Next"] == there
    assert states["Preview the invocation logs"]["Next"] == "Join the job queue"
    assert states["Give back the job slot"]["Next"] == "How should the model be served?"
    assert states["Wait for the job to end"]["Next"] == "Is the job finished?"
    assert states["Create provisioned throughput"]["Next"] == "Wait for the throughput"
    assert states["Wait for the throughput"]["Next"] == "Check provisioned throughput"
    assert states["Check provisioned throughput"]["Next"] == "Is the throughput ready?"
    assert states["Deploy the model on demand"]["Next"] == "Wait for the deployment"
    assert states["Wait for the deployment"]["Next"] == "Check the deployment"
    assert states["Check the deployment"]["Next"] == "Is the deployment active?"
    assert states["No serving requested"]["Next"] == "Write run summary"
    assert states["Try the distilled model"]["Next"] == "Evaluate the student?"
    assert states["Write run summary"]["Next"] == "Distillation finished"
    assert states["Distillation finished"]["Type"] == "Succeed"


def test_given_default_config_when_synthesized_then_every_job_status_has_a_branch(synth):
    states = synth.definition["States"]
    assert _branches(states["Is the job finished?"]) == {
        "InProgress": "Wait for the job to end",
        "Stopping": "Wait for the job to end",
        "Completed": "Give back the job slot",
        "Failed": "Distillation job failed",
        "Stopped": "Distillation job stopped",
        "<otherwise>": "Unexpected job status",
    }
    assert states["Is the job finished?"]["Choices"][0]["Or"][0]["Variable"] == "$.job.status"
    assert states["Distillation job failed"] == {
        "Type": "Fail",
        "Error": "DistillationJobFailed",
        "CausePath": "$.job.failureMessage",
    }
    assert states["Distillation job stopped"] == {
        "Type": "Fail",
        "Error": "DistillationJobStopped",
        "CausePath": "$.job.failureMessage",
    }
    assert states["Unexpected job status"] == {"Type": "Fail", "Error": "UnexpectedJobStatus"}  # fmt: skip


def test_given_default_config_when_synthesized_then_every_throughput_status_has_a_branch(synth):
    states = synth.definition["States"]
    assert _branches(states["Is the throughput ready?"]) == {
        "Creating": "Wait for the throughput",
        "Updating": "Wait for the throughput",
        "InService": "Try the distilled model",
        "Failed": "Provisioned throughput failed",
        "<otherwise>": "Unexpected throughput status",
    }
    assert states["Is the throughput ready?"]["Choices"][0]["Or"][0]["Variable"] == "$.serving.status"
    assert states["Provisioned throughput failed"] == {
        "Type": "Fail",
        "Error": "ProvisioningFailed",
        "CausePath": "$.serving.failureMessage",
    }
    assert states["Unexpected throughput status"] == {"Type": "Fail", "Error": "UnexpectedThroughputStatus"}  # fmt: skip


def test_given_default_config_when_synthesized_then_every_deployment_status_has_a_branch(synth):
    from distill.polling import DEPLOYMENT_PHASES

    states = synth.definition["States"]
    branches = _branches(states["Is the deployment active?"])
    assert branches == {
        "Creating": "Wait for the deployment",
        "Active": "Try the distilled model",
        "Failed": "Deployment failed",
        "<otherwise>": "Unexpected deployment status",
    }
    assert set(branches) - {"<otherwise>"} == set(DEPLOYMENT_PHASES)
    assert {c["Variable"] for c in states["Is the deployment active?"]["Choices"]} == {"$.serving.status"}
    assert states["Deployment failed"] == {
        "Type": "Fail",
        "Error": "DeploymentFailed",
        "CausePath": "$.serving.failureMessage",
    }
    assert states["Unexpected deployment status"] == {"Type": "Fail", "Error": "UnexpectedDeploymentStatus"}
    assert states["Wait for the deployment"] == {
        "Type": "Wait", "SecondsPath": "$.serving.waitSeconds", "Next": "Check the deployment"}  # fmt: skip


def test_given_default_config_when_synthesized_then_the_model_is_served_the_way_the_run_asks(synth):
    from typing import get_args

    from distill.run_request import Serving

    states = synth.definition["States"]
    choice = states["How should the model be served?"]
    assert {c["Variable"] for c in choice["Choices"]} == {"$.run.serving"}
    assert _branches(choice) == {
        "provisioned-throughput": "Create provisioned throughput",
        "on-demand": "Deploy the model on demand",
        "none": "No serving requested",
        "<otherwise>": "Unexpected serving choice",
    }
    # Every value the resolved run can hold has its branch.
    assert set(get_args(Serving)) == set(_branches(choice)) - {"<otherwise>"}
    assert states["Unexpected serving choice"] == {"Type": "Fail", "Error": "UnexpectedServingChoice"}
    skip = states["No serving requested"]
    assert skip["Type"] == "Pass" and skip["ResultPath"] == "$.serving"
    # A real JSON null (jsii would drop a None), so "Write run summary" finds the path.
    assert skip["Parameters"] == {"modelId.$": "States.StringToJson('null')"}  # fmt: skip


def test_given_default_config_when_synthesized_then_the_run_output_is_the_summary_function_result(synth):
    summary = synth.definition["States"]["Write run summary"]
    # No ResultPath: the summary function's result (ARNs, summary URI) becomes the execution's output.
    assert "ResultPath" not in summary
    assert summary["Parameters"] == {"state.$": "$"}


def test_given_default_config_when_synthesized_then_the_job_is_awaited_by_event_with_a_backstop_look(synth):
    states = synth.definition["States"]
    backstop = synth.config.job_backstop
    assert {"Wait for the job to end (first hour)": backstop.first_hour_every_seconds,
                     "Wait for the job to end": backstop.every_seconds} == WAITS  # fmt: skip
    for name, seconds in WAITS.items():
        state = states[name]
        assert state["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken"), name
        assert state["Parameters"]["FunctionName"].startswith("<FunctionsAwaitJob"), name
        assert state["Parameters"]["Payload"] == {"run.$": "$.run", "job.$": "$.job", "token.$": "$$.Task.Token"}
        assert state["ResultPath"] == "$.job" and state["TimeoutSeconds"] == seconds, name
        # A timeout is retried in place (four history events per look), each retry one more look.
        assert state["Retry"][0] == {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1,
                                     "MaxAttempts": 5 if "first hour" in name else 99_999_999, "BackoffRate": 1}
        assert state["Retry"][1]["ErrorEquals"] == LAMBDA_ERRORS
        assert state["Retry"][2]["ErrorEquals"] == ["BedrockThrottled"]
    # After the first hour's six looks (the first and five retries), the half-hourly backstop.
    assert states["Wait for the job to end (first hour)"]["Catch"] == [
        {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "Wait for the job to end"}]


def test_given_default_config_when_synthesized_then_waits_read_their_seconds_from_the_state(synth):
    states = synth.definition["States"]
    assert states["Wait for the throughput"] == {
        "Type": "Wait",
        "SecondsPath": "$.serving.waitSeconds",
        "Next": "Check provisioned throughput",
    }
    assert states["Wait for the deployment"] == {
        "Type": "Wait", "SecondsPath": "$.serving.waitSeconds", "Next": "Check the deployment"}  # fmt: skip


def test_given_default_config_when_synthesized_then_every_task_retries_lambda_service_errors(synth):
    for name in TASKS:
        if name in WAITS:
            continue
        retries = synth.definition["States"][name]["Retry"]
        assert retries[0] == {
            "ErrorEquals": LAMBDA_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2,
            "MaxDelaySeconds": 60, "JitterStrategy": "FULL"}, name  # fmt: skip


def test_given_default_config_when_synthesized_then_only_bedrock_tasks_retry_throttling_with_the_config(synth):
    throttle = synth.config.throttle_retry
    for name, (_, _, _, bedrock) in TASKS.items():
        retries = synth.definition["States"][name]["Retry"]
        throttled = [r for r in retries if r["ErrorEquals"] == ["BedrockThrottled"]]
        if not bedrock:
            assert throttled == [], name
            continue
        assert throttled == [{
            "ErrorEquals": ["BedrockThrottled"], "IntervalSeconds": throttle.interval_seconds,
            "MaxAttempts": throttle.max_attempts, "BackoffRate": throttle.backoff_rate,
            "MaxDelaySeconds": throttle.max_delay_seconds, "JitterStrategy": "FULL"}], name  # fmt: skip


def test_given_default_config_when_synthesized_then_user_and_bedrock_rejections_are_never_retried(synth):
    retried = {e for s in synth.definition["States"].values() for r in s.get("Retry", []) for e in r["ErrorEquals"]}
    assert retried == {*LAMBDA_ERRORS, *(error_name(e) for e in RETRIED), "States.Timeout"}
    timeouts = {name for name, s in synth.definition["States"].items()
                for r in s.get("Retry", []) if "States.Timeout" in r["ErrorEquals"]}  # fmt: skip
    assert timeouts == {*WAITS, "Wait for a job slot"}  # only the backstops look again after a timeout
    for error in (*(error_name(e) for e in NOT_RETRIED), "States.ALL", "States.TaskFailed"):
        assert error not in retried, error
    assert {"InvalidRunInput", "QuotaExceeded", "DatasetInvalid"}.isdisjoint(retried)
    # The one Catch: a smoke test still throttled after its retries is reported in the summary, not a failed run.
    catches = {name: s["Catch"] for name, s in synth.definition["States"].items() if "Catch" in s}
    assert catches == {"Start distillation job": [
        {"ErrorEquals": ["JobQuotaInUse"], "ResultPath": "$.quotaRefusal", "Next": "Back off and queue again"}],
        "Try the distilled model": [
        {"ErrorEquals": ["BedrockThrottled"], "ResultPath": "$.smokeTest", "Next": "Evaluate the student?"}],
        "Wait for the job to end (first hour)": [
        {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "Wait for the job to end"}]}  # fmt: skip


def test_given_default_config_when_synthesized_then_every_task_times_out_30s_after_its_function(synth):
    functions = {key: r["Properties"] for key, r in synth.resources("AWS::Lambda::Function").items()}
    for name, (function, *_) in TASKS.items():
        (props,) = (p for key, p in functions.items() if key.startswith(function))
        assert synth.definition["States"][name]["TimeoutSeconds"] == props["Timeout"] + 30, name


def test_given_default_config_when_synthesized_then_the_machine_is_standard_traced_logged_and_bounded(synth):
    assert synth.definition["TimeoutSeconds"] == synth.config.execution_timeout_hours * 3600
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is False
    (group_ref,) = logging["Destinations"]
    group = group_ref["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert synth.pipeline_json["Resources"][group]["Properties"]["RetentionInDays"] == synth.config.log_retention_days


def test_given_default_config_when_synthesized_then_the_evaluation_answers_in_batches_and_gates_promotion(synth):
    states = synth.definition["States"]
    assert states["Evaluate the student?"]["Default"] == "Write run summary"
    assert states["Evaluate the student?"]["Choices"] == [
        {"Variable": "$.run.evaluation", "IsNull": False, "Next": "Prepare the evaluation"}]
    assert states["Prepare the evaluation"]["Next"] == "Are there prompts to evaluate?"
    assert states["Are there prompts to evaluate?"]["Choices"] == [
        {"Variable": "$.evaluation.prompts", "NumericGreaterThan": 0, "Next": "Answer and judge the held-out prompts"}]
    assert states["Are there prompts to evaluate?"]["Default"] == "Write run summary"
    batches = states["Answer and judge the held-out prompts"]
    assert batches["Type"] == "Map" and batches["ItemsPath"] == "$.evaluation.batches"
    assert batches["MaxConcurrency"] == synth.config.evaluation_concurrency == 4
    assert batches["ItemSelector"] == {"run.$": "$.run", "serving.$": "$.serving", "batch.$": "$$.Map.Item.Value"}
    assert batches["ResultPath"] == "$.evaluation.batchResults" and batches["Next"] == "Decide the verdict"
    batch = batches["ItemProcessor"]["States"]["Answer and judge a batch"]
    assert batch["Resource"].startswith("<FunctionsEvaluateBatch") and batch["End"] is True
    assert batch["Parameters"] == {"run.$": "$.run", "serving.$": "$.serving", "batch.$": "$.batch"}
    assert [r["ErrorEquals"] for r in batch["Retry"]] == [LAMBDA_ERRORS, ["BedrockThrottled"]]
    assert states["Decide the verdict"]["Next"] == "Did the student earn it?"
    assert states["Did the student earn it?"]["Choices"] == [
        {"Variable": "$.evaluation.verdict.passed", "BooleanEquals": True, "Next": "Promote behind a deployment?"}]
    assert states["Did the student earn it?"]["Default"] == "Remove the student's serving"
    assert states["Remove the student's serving"]["Next"] == "Student below teacher"
    assert states["Student below teacher"] == {"Type": "Fail", "ErrorPath": "$.evaluation.verdict.error",
                                               "CausePath": "$.evaluation.verdict.cause"}  # fmt: skip
    assert states["Promote behind a deployment?"]["Choices"] == [
        {"Variable": "$.run.evaluation.request.promoteTo", "IsNull": False, "Next": "Promote the student"}]
    assert states["Promote behind a deployment?"]["Default"] == "Write run summary"
    assert states["Promote the student"]["Next"] == "Wait for the promotion"
    assert states["Wait for the promotion"] == {"Type": "Wait", "SecondsPath": "$.promotion.waitSeconds",
                                                "Next": "Check the promotion"}  # fmt: skip
    assert _branches(states["Is the promotion done?"]) == {
        "Updating": "Wait for the promotion", "UpdateCompleted": "Remove the evaluation serving",
        "UpdateFailed": "Promotion failed", "<otherwise>": "Unexpected promotion status"}
    assert states["Remove the evaluation serving"]["Next"] == "Write run summary"
    assert states["Promotion failed"] == {"Type": "Fail", "Error": "PromotionFailed",
                                          "CausePath": "$.promotion.failureMessage"}  # fmt: skip


def test_given_default_config_when_synthesized_then_a_run_queues_for_a_job_slot_without_polling(synth):
    states = synth.definition["States"]
    assert states["Join the job queue"] == {"Type": "Pass", "Result": {"attempt": 0}, "ResultPath": "$.backoff",
                                            "Next": "Wait for a job slot"}  # fmt: skip
    slot = states["Wait for a job slot"]
    assert slot["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert slot["Parameters"]["FunctionName"].startswith("<FunctionsTakeJobSlot")
    assert slot["Parameters"]["Payload"] == {"run.$": "$.run", "token.$": "$$.Task.Token"}
    # Answered by a release when its turn comes; once an hour it looks itself (keeping its place in line).
    assert slot["TimeoutSeconds"] == 3600 and slot["ResultPath"] == "$.slot"
    assert slot["Retry"][0] == {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 99_999_999,
                                "BackoffRate": 1}  # fmt: skip
    assert [r["ErrorEquals"] for r in slot["Retry"][1:]] == [LAMBDA_ERRORS, ["JobSlotsBusy"]]
    assert states["Back off and queue again"]["Next"] == "Wait before queueing again"
    assert states["Wait before queueing again"] == {"Type": "Wait", "SecondsPath": "$.backoff.waitSeconds",
                                                    "Next": "Wait for a job slot"}  # fmt: skip
    for name in ("Back off and queue again", "Give back the job slot"):
        assert [r["ErrorEquals"] for r in states[name]["Retry"]] == [LAMBDA_ERRORS, ["JobSlotsBusy"]], name
