"""`distill start` and `distill status`, the real-account commands, against moto: the synthesized state machine
runs with the real handlers (OfflinePipeline), the commands talk to it through boto3 as they would to AWS.

Verdicts as for local-run: the last stdout line is SUCCEEDED (exit 0) or FAILED: <error>: <cause> (exit 1);
a pipeline or execution that cannot be found is a message and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import itertools
import json

import boto3
import pytest

from distill import drops
from distill_cli import deployed
from distill_cli.main import main
from distill_cli.offline.bedrock import FAILURE_MESSAGES
from distill_cli.offline.world import REGION

# The stand-in stacks' one resource: moto creates the stack and its outputs, and says it skipped the handle.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+WaitConditionHandle:UserWarning")

FAST = ["--interval", "5"]  # virtual seconds: these runs wait 60 s or more between checks, so no change is missed
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _cli(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def _where(pipeline) -> list[str]:
    return ["--bucket", pipeline.bucket, "--state-machine", pipeline.state_machine_arn]


def _executions(pipeline) -> list[dict]:
    return pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]


def _labelled(lines: list[str], label: str) -> str:
    """The value of an output line ``  <label>   <value>``."""
    (value,) = [line.strip()[len(label) :].strip() for line in lines if line.strip().startswith(label + " ")]
    return value


def _status_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.split(" ", 1)[0] in STATUSES and "state: " in line]


def _without_clock(line: str) -> list[str]:
    words = line.split()
    return [words[0], *words[2:]]


def _deploy_stacks(data_outputs: dict[str, str] | None, pipeline_outputs: dict[str, str] | None,
                   prefix: str = "Distill") -> None:  # fmt: skip
    """Stand-ins for the deployed stacks: only their outputs matter to the commands."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    for suffix, outputs in (("Data", data_outputs), ("Pipeline", pipeline_outputs)):
        if outputs is None:
            continue
        template = {
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        cfn.create_stack(StackName=f"{prefix}{suffix}", TemplateBody=json.dumps(template))


def _outputs_of(pipeline) -> tuple[dict[str, str], dict[str, str]]:
    bucket = pipeline.bucket
    return (
        {"BucketName": bucket, "DropPrefix": f"s3://{bucket}/{pipeline.drop_prefix}"},
        {"StateMachineArn": pipeline.state_machine_arn},
    )


# --- start ---------------------------------------------------------------------------------------------
def test_given_a_local_file_and_overrides_when_start_follow_then_one_run_named_like_the_trigger_succeeds(
    capsys, offline, dataset_file
):
    pipeline = offline()

    code, out, err = _cli(capsys, "start", str(dataset_file), *_where(pipeline), "--provision", "--follow", *FAST)

    assert code == 0, err
    assert out[-1] == "SUCCEEDED"
    (execution,) = _executions(pipeline)
    assert out[0] == execution["executionArn"]  # the ARN first, on stdout
    (job_arn,) = pipeline.bedrock.jobs
    (throughput,) = pipeline.bedrock.throughputs.values()
    output = json.loads(pipeline.sfn.describe_execution(executionArn=execution["executionArn"])["output"])
    assert _labelled(out, "job") == job_arn
    assert _labelled(out, "custom model") == output["customModelArn"]
    assert output["customModelArn"].startswith("arn:aws:bedrock:")
    assert _labelled(out, "provisioned model") == throughput.arn
    # Progress on stderr: the upload, then one line per change of the run.
    assert "uploaded" in err
    progress = _status_lines(err.splitlines())
    assert progress[-1].startswith("SUCCEEDED") and "job: Completed" in progress[-1]
    assert not _status_lines(out)
    # The object and its sidecar in the drop zone; the execution named as distill.drops names it.
    key = f"{pipeline.drop_prefix}{dataset_file.name}"
    sidecar = key + drops.SIDECAR_SUFFIX
    assert pipeline.keys(pipeline.drop_prefix) == [key, sidecar]
    assert pipeline.read_json(sidecar) == {"provisionedThroughput": {"modelUnits": 1}}
    version = pipeline.s3.head_object(Bucket=pipeline.bucket, Key=key)["VersionId"]
    assert execution["name"] == drops.DroppedObject(pipeline.bucket, key, version).execution_name
    run_input = json.loads(pipeline.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert run_input == {"dataset": f"s3://{pipeline.bucket}/{key}", "provisionedThroughput": {"modelUnits": 1}}

    # The bucket's trigger for the same upload starts nothing more.
    (delivery,) = pipeline.emit(pipeline.object_created_event(key))

    assert delivery.ok and delivery.result["started"] is False, delivery
    assert len(_executions(pipeline)) == 1
    assert len(pipeline.bedrock.jobs) == 1


def test_given_no_overrides_when_start_then_stdout_is_the_arn_and_a_stale_sidecar_is_gone(
    capsys, offline, dataset_file
):
    pipeline = offline()
    key = f"{pipeline.drop_prefix}{dataset_file.name}"
    pipeline.put(key + drops.SIDECAR_SUFFIX, json.dumps({"systemPrompt": "left over from an earlier upload"}))

    code, out, err = _cli(capsys, "start", str(dataset_file), *_where(pipeline))

    assert code == 0, err
    (arn,) = out
    assert f"distill status {arn.rsplit(':', 1)[-1]} --follow" in err
    assert pipeline.keys(pipeline.drop_prefix) == [key]
    described = pipeline.sfn.describe_execution(executionArn=arn)
    assert json.loads(described["input"]) == {"dataset": f"s3://{pipeline.bucket}/{key}"}
    # The trigger while the run is running: Step Functions answers the same execution (same name and input).
    (delivery,) = pipeline.emit(pipeline.object_created_event(key))
    assert delivery.ok and delivery.result["executionArn"] == arn
    assert pipeline.wait(arn).status == "SUCCEEDED"
    assert len(_executions(pipeline)) == 1


def test_given_a_file_name_s3_must_encode_when_started_then_the_trigger_names_the_same_run(
    capsys, offline, dataset_file, tmp_path
):
    # S3 sends the upload's event with the key URL-encoded; the trigger must still name the run as start does.
    path = tmp_path / "Q3 résumé (final)+v2.jsonl"
    path.write_bytes(dataset_file.read_bytes())
    pipeline = offline()

    code, out, err = _cli(capsys, "start", str(path), *_where(pipeline), "--follow", *FAST)

    assert code == 0, err
    assert out[-1] == "SUCCEEDED"
    (execution,) = _executions(pipeline)
    drops_seen = [d for d in pipeline.bus.deliveries if d.module == "start_from_drop"]
    assert drops_seen and all(d.ok and d.result["name"] == execution["name"] for d in drops_seen)
    assert all(d.result["started"] is False for d in drops_seen)  # start was first; the trigger saw its run


def test_given_the_trigger_started_the_run_first_when_start_then_it_follows_that_run(
    capsys, offline, dataset_file, monkeypatch
):
    pipeline = offline()
    upload = pipeline.s3.upload_file
    triggered = []

    def upload_then_the_trigger_runs(filename, bucket, key, *args, **kwargs):
        before = len(pipeline.bus.deliveries)
        upload(filename, bucket, key, *args, **kwargs)  # S3 sends Object Created; the rule delivers it
        triggered.extend(pipeline.settle(pipeline.bus.deliveries[before:]))
        pipeline.wait(triggered[0].result["executionArn"])  # it even ended before the command got to start

    monkeypatch.setattr(pipeline.s3, "upload_file", upload_then_the_trigger_runs)

    code, out, err = _cli(capsys, "start", str(dataset_file), *_where(pipeline), "--system-prompt", "Be brief.",
                          "--follow", *FAST)  # fmt: skip

    assert code == 0, err
    (drop,) = triggered
    assert drop.result["started"] is True
    assert out[0] == drop.result["executionArn"]
    assert out[-1] == "SUCCEEDED"
    assert "trigger had already started" in err
    assert len(_executions(pipeline)) == 1


def test_given_an_unversioned_bucket_and_the_same_bytes_again_when_start_then_it_refuses_naming_the_old_run(
    capsys, offline, dataset_file
):
    pipeline = offline()
    pipeline.s3.put_bucket_versioning(Bucket=pipeline.bucket, VersioningConfiguration={"Status": "Suspended"})
    code, out, _ = _cli(capsys, "start", str(dataset_file), *_where(pipeline), "--follow", *FAST)
    assert code == 0 and out[-1] == "SUCCEEDED"

    code, out, err = _cli(capsys, "start", str(dataset_file), *_where(pipeline))

    assert code == 2
    assert out == []
    assert "already had a run" in err and "Traceback" not in err
    assert len(_executions(pipeline)) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--name", "mine"], "--name is only for s3:// datasets"),
        (["--input", "[1]"], "must be a JSON object"),
        (["--input", "{not json"], "--input"),
    ],
)
def test_given_wrong_options_when_start_then_exit_2_and_nothing_is_uploaded(
    capsys, offline, dataset_file, extra, message
):
    pipeline = offline()

    code, out, err = _cli(capsys, "start", str(dataset_file), *_where(pipeline), *extra)

    assert code == 2
    assert out == []
    assert message in err
    assert pipeline.keys() == []


def test_given_a_missing_file_when_start_then_exit_2(capsys, offline, tmp_path):
    pipeline = offline()

    code, _, err = _cli(capsys, "start", str(tmp_path / "nope.jsonl"), *_where(pipeline))

    assert code == 2
    assert "no such file" in err


# --- status --------------------------------------------------------------------------------------------
def test_given_a_finished_run_when_status_with_its_bare_name_then_succeeded_with_its_outputs(
    capsys, offline, dataset_file
):
    pipeline = offline()
    key = pipeline.upload(dataset_file)
    result = pipeline.run({"dataset": key}, name="cli-status-done")
    assert result.status == "SUCCEEDED", result.message

    code, out, err = _cli(capsys, "status", "cli-status-done", *_where(pipeline))

    assert code == 0, err
    assert out[0].startswith("SUCCEEDED") and "state: Distillation finished" in out[0]
    assert "job: Completed" in out[0]
    assert _labelled(out, "job") == result.output["jobArn"]
    assert _labelled(out, "custom model") == result.output["customModelArn"]
    assert out[-1] == "SUCCEEDED"


def test_given_a_failed_job_when_status_without_an_execution_then_the_newest_run_fails_with_bedrocks_message(
    capsys, offline, dataset_file
):
    pipeline = offline(job_outcome="failed")
    key = pipeline.upload(dataset_file)
    older = pipeline.run({"dataset": key, "teacherModel": "amazon.nova-pro-v1:0"}, name="older-run")
    newer = pipeline.run({"dataset": key}, name="newer-run")
    assert (older.status, newer.status) == ("FAILED", "FAILED")

    code, out, err = _cli(capsys, "status", *_where(pipeline))

    assert code == 1, err
    assert "state: Distillation job failed" in out[0] and "job: Failed" in out[0]
    assert out[-1] == f"FAILED: DistillationJobFailed: {FAILURE_MESSAGES['failed']}"

    # The older one, by ARN: a Lambda error's payload reads as errorType: errorMessage.
    code, out, _ = _cli(capsys, "status", older.execution_arn)

    assert code == 1
    assert out[-1].startswith("FAILED: InvalidRunInput: ") and "teacherModel" in out[-1]
    assert "{" not in out[-1]


def test_given_a_running_execution_when_status_follow_then_one_line_per_change_and_the_verdict_last(
    capsys, offline, dataset_file
):
    pipeline = offline(job_checks=2, throughput_checks=2)
    key = pipeline.upload(dataset_file)
    arn = pipeline.start({"dataset": key, "provisionedThroughput": {"modelUnits": 1}})

    # An execution ARN needs no look-up: no stacks, no --bucket/--state-machine.
    code, out, err = _cli(capsys, "status", arn, "--follow", *FAST)

    assert code == 0, err
    assert out[-1] == "SUCCEEDED"
    lines = _status_lines(out)
    assert lines[0].startswith("RUNNING")
    assert lines[-1].startswith("SUCCEEDED")
    assert any("job: InProgress" in line for line in lines)
    assert any("job: Completed" in line and ": InService" in line for line in lines)
    changes = [_without_clock(line) for line in lines]
    assert all(a != b for a, b in itertools.pairwise(changes)), "a line without a change"
    (throughput,) = pipeline.bedrock.throughputs.values()
    assert _labelled(out, "provisioned model") == throughput.arn


def test_given_an_unknown_execution_name_when_status_then_exit_2_with_a_message(capsys, offline):
    pipeline = offline()

    code, out, err = _cli(capsys, "status", "no-such-run", *_where(pipeline))

    assert code == 2
    assert out == []
    assert "no such execution: no-such-run" in err


def test_given_no_runs_yet_when_status_then_exit_2_saying_so(capsys, offline):
    pipeline = offline()

    code, _, err = _cli(capsys, "status", *_where(pipeline))

    assert code == 2
    assert "no runs yet" in err


# --- finding the deployed pipeline -----------------------------------------------------------------------
def test_given_the_deployed_stacks_when_found_then_their_outputs_name_the_pipeline_and_the_commands_use_them(
    capsys, offline, dataset_file
):
    pipeline = offline()
    _deploy_stacks(*_outputs_of(pipeline))

    found = deployed.find(argparse.Namespace(stack_prefix="Distill", bucket=None, state_machine=None))

    assert found == deployed.Deployment(pipeline.bucket, pipeline.state_machine_arn, pipeline.drop_prefix)

    code, out, err = _cli(capsys, "start", str(dataset_file), "--follow", *FAST)

    assert code == 0, err
    assert out[-1] == "SUCCEEDED"
    (execution,) = _executions(pipeline)

    code, out, err = _cli(capsys, "status")

    assert code == 0, err
    assert execution["name"] in out[0] or out[0].startswith("SUCCEEDED")
    assert out[-1] == "SUCCEEDED"


@pytest.mark.parametrize("command", ["start", "status"])
def test_given_no_deployed_stacks_when_a_command_runs_then_exit_2_naming_the_stack(
    capsys, offline, dataset_file, command
):
    offline()
    argv = ["start", str(dataset_file)] if command == "start" else ["status"]

    code, out, err = _cli(capsys, *argv, "--stack-prefix", "Elsewhere")

    assert code == 2
    assert out == []
    assert "stack ElsewherePipeline not found" in err
    assert "--state-machine" in err
    assert "Traceback" not in err


def test_given_a_stack_without_its_output_when_start_then_exit_2_naming_the_output(capsys, offline, dataset_file):
    pipeline = offline()
    _deploy_stacks({"DropPrefix": f"s3://{pipeline.bucket}/incoming/"}, _outputs_of(pipeline)[1])

    code, _, err = _cli(capsys, "start", str(dataset_file))

    assert code == 2
    assert "stack DistillData" in err and "has no output BucketName" in err
    assert pipeline.keys() == []


def test_given_only_the_pipeline_stack_when_status_then_the_data_stack_is_not_needed(capsys, offline, dataset_file):
    pipeline = offline()
    _deploy_stacks(None, _outputs_of(pipeline)[1])
    key = pipeline.upload(dataset_file)
    pipeline.run({"dataset": key}, name="only-the-machine")

    code, out, err = _cli(capsys, "status", "only-the-machine")

    assert code == 0, err
    assert out[-1] == "SUCCEEDED"


def test_given_a_run_waiting_for_a_job_slot_when_status_then_its_place_in_line_shows(capsys, offline, dataset_file):
    # Two slots (the default when the quota cannot be read), two-hour jobs: the third and fourth runs wait.
    pipeline = offline(job_seconds=2 * 3600)
    key = pipeline.upload(dataset_file)
    arns = [pipeline.start({"dataset": key, "evaluation": False}, name=f"queued-{n}") for n in range(4)]
    pipeline.scheduler.run_until(lambda: len(pipeline.bedrock.jobs) == 2)
    pipeline.scheduler.advance(300)

    places = [_cli(capsys, "status", arn, "--bucket", pipeline.bucket)[1] for arn in arns[2:]]

    assert [_status_lines(out)[0].split("queue: ", 1)[-1] for out in places] == ["#1 in line", "#2 in line"]
    assert all("state: Wait for a job slot" in _status_lines(out)[0] for out in places)
