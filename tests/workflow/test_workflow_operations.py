"""The deployed triggers, offline: a file dropped into incoming/ starts one run through the template's
EventBridge rule, and a run that ends badly reaches the failure notifier (summary, cost guard)."""

from __future__ import annotations


def test_given_a_file_dropped_in_the_drop_zone_when_the_event_arrives_then_one_run_starts_and_succeeds(
    offline, dataset_file
):
    pipeline = offline()

    result = pipeline.run_dropped(dataset_file)

    assert result.status == "SUCCEEDED", result.message
    (drop,) = [d for d in result.deliveries if d.module == "start_from_drop"]
    assert drop.ok and drop.result["started"] is True
    assert drop.result["executionArn"] == result.execution_arn
    assert len(pipeline.bedrock.jobs) == 1
    assert not [d for d in result.deliveries if d.module == "notify_failure"]  # a success notifies no failure


def test_given_the_same_object_event_twice_when_delivered_then_only_one_execution_exists(offline, dataset_file):
    pipeline = offline()
    first = pipeline.run_dropped(dataset_file)

    again = pipeline.emit(pipeline.object_created_event(f"{pipeline.drop_prefix}{dataset_file.name}"))

    assert first.status == "SUCCEEDED", first.message
    (duplicate,) = again
    assert duplicate.ok and duplicate.result["started"] is False
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]
    assert len(executions) == 1
    assert len(pipeline.bedrock.jobs) == 1


def test_given_a_sidecar_asking_for_throughput_when_dropped_then_the_run_provisions_it(offline, dataset_file):
    pipeline = offline()

    result = pipeline.run_dropped(dataset_file, settings={"provisionedThroughput": {"modelUnits": 1}})

    assert result.status == "SUCCEEDED", result.message
    assert result.output["provisionedModelArn"] in pipeline.bedrock.throughputs


def test_given_a_file_outside_the_dataset_suffixes_when_dropped_then_no_rule_matches(offline, tmp_path):
    pipeline = offline()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a dataset\n")

    deliveries = pipeline.drop(notes)

    assert deliveries == []
    assert pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"] == []


def test_given_throughput_fails_when_the_run_ends_then_the_notifier_summarizes_and_deletes_the_throughput(
    offline, dataset_file
):
    pipeline = offline(throughput_fails=True)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "provisionedThroughput": {"modelUnits": 1}})

    assert result.status == "FAILED"
    (notice,) = [d for d in result.deliveries if d.module == "notify_failure"]
    assert notice.ok, notice.error
    assert notice.result["failedState"] == "Provisioned throughput failed"
    assert notice.result["error"] == "ProvisioningFailed"
    (throughput,) = pipeline.bedrock.throughputs.values()
    assert throughput.deleted, "the cost guard deletes no-commitment throughput of a failed run"
    summaries = [k for k in pipeline.keys("reports/") if k.endswith("summary.json")]
    assert len(summaries) == 1
    assert pipeline.read_json(summaries[0])["error"] == "ProvisioningFailed"
