"""What only a real account would have shown, offline: each test failed before its defect was mended.

The offline world enforces IAM on every call, sends S3's events as S3 does (keys URL-encoded), invokes
EventBridge targets asynchronously, and fails a state over 256 KiB; see distill_cli/offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from distill_cli.offline.resources import RoleDef
from tests.workflow.conftest import RECORDS, write_dataset


def _summary(pipeline, result) -> dict:
    return pipeline.read_json(result.output["summaryUri"].removeprefix(f"s3://{pipeline.bucket}/"))


def test_given_a_file_whose_name_s3_must_encode_when_dropped_then_its_run_reads_it_and_succeeds(offline, tmp_path):
    # S3 writes "Q3 résumé (final)+v2.jsonl" into the event URL-encoded; the starter must find the real object.
    path = write_dataset(tmp_path / "Q3 résumé (final)+v2.jsonl")
    pipeline = offline()

    result = pipeline.run_dropped(path)

    assert result.status == "SUCCEEDED", result.message
    (drop,) = [d for d in result.deliveries if d.module == "start_from_drop"]
    assert pipeline.bus.log[-2]["detail"]["object"]["key"] != f"{pipeline.drop_prefix}{path.name}"  # as S3 sent it
    run_input = json.loads(pipeline.sfn.describe_execution(executionArn=drop.result["executionArn"])["input"])
    assert run_input == {"dataset": f"s3://{pipeline.bucket}/{pipeline.drop_prefix}{path.name}"}


def test_given_a_dataset_that_does_not_exist_when_run_then_prepare_names_it_instead_of_a_raw_access_error(
    offline,
):
    pipeline = offline()

    result = pipeline.run({"dataset": "incoming/never-uploaded.jsonl"})

    assert result.status == "FAILED"
    assert result.error == "DatasetInvalid"
    assert "incoming/never-uploaded.jsonl: no such object" in result.message
    assert not pipeline.denials, "a missing dataset is found by listing, never by a GET that S3 answers with 403"


def test_given_a_cross_region_teacher_when_run_then_bedrock_may_invoke_it_through_the_service_role(
    offline, dataset_file
):
    pipeline = offline()
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "teacherModelId": "us.amazon.nova-pro-v1:0"})

    assert result.status == "SUCCEEDED", result.message
    used = {g.requirement.resource for g in pipeline.authorizer.grants
            if g.principal.endswith(tuple(r.name for r in pipeline.deployment.roles.values() if "Bedrock" in r.name))
            and g.requirement.action == "bedrock:InvokeModel"}  # fmt: skip
    assert "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0" in used
    assert {f"arn:aws:bedrock:{r}::foundation-model/amazon.nova-pro-v1:0" for r in ("us-east-1", "us-east-2",
                                                                                  "us-west-2")} <= used  # fmt: skip


def test_given_an_execution_name_bedrock_tags_refuse_when_run_then_it_succeeds_with_a_readable_tag(
    offline, dataset_file
):
    # Step Functions allows ( ) ! ' and non-ASCII letters in a name; Bedrock's TagValue pattern does not.
    pipeline = offline()
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key}, name="Q3-(été)-support-bot!-it's-v2")

    assert result.status == "SUCCEEDED", result.message
    (job,) = pipeline.bedrock.jobs.values()
    tags = {t["key"]: t["value"] for t in job.request["jobTags"]}
    assert tags["distill:execution"] == "Q3--ete--support-bot--it-s-v2"


def test_given_a_long_first_prompt_when_served_and_tried_then_the_run_stays_under_the_state_limit(
    offline, tmp_path
):
    # 300,000 characters: the whole prompt in $.smokeTest would push the state over 256 KiB (States.DataLimitExceeded,
    # after the deployment was created).
    path = tmp_path / "long.jsonl"
    long_record = {"prompt": "Summarize this ticket thread: " + "word " * 60_000, "completion": "A summary."}
    path.write_text(json.dumps(long_record) + "\n" + write_dataset(tmp_path / "rest.jsonl").read_text())
    pipeline = offline()
    key = pipeline.upload(path)

    result = pipeline.run({"dataset": key, "onDemandDeployment": {}})

    assert result.status == "SUCCEEDED", result.message
    smoke = _summary(pipeline, result)["smokeTest"]
    assert smoke["error"] is None and smoke["answer"]
    assert smoke["promptChars"] == len(long_record["prompt"]) and len(smoke["prompt"]) <= 500
    assert max(len(json.dumps(json.loads(e["stateExitedEventDetails"]["output"])).encode())
               for e in result.history if "stateExitedEventDetails" in e) < 256 * 1024  # fmt: skip


def test_given_a_first_line_over_a_mebibyte_when_tried_then_the_whole_line_is_read(offline, tmp_path):
    # A record just under the 1 MiB input limit grows past 1 MiB once converted (system prompt, escapes): a ranged
    # read of 1 MiB used to cut it and fail on its JSON.
    path = tmp_path / "big.jsonl"
    big = {"prompt": "word " * 207_000 + "what now?", "completion": "Ask support."}
    path.write_text(json.dumps(big) + "\n" + write_dataset(tmp_path / "rest.jsonl").read_text())
    assert 1_000_000 < len(path.read_text().splitlines()[0]) < 1_048_576
    pipeline = offline()
    key = pipeline.upload(path)

    result = pipeline.run({"dataset": key, "provisionedThroughput": {}, "systemPrompt": "Be brief. " * 2_000})

    assert result.status == "SUCCEEDED", result.message
    smoke = _summary(pipeline, result)["smokeTest"]
    assert smoke["error"] is None and smoke["promptChars"] == len(big["prompt"])


def test_given_the_drop_starter_fails_on_an_event_when_retries_run_out_then_the_event_is_kept_not_lost(
    offline, dataset_file
):
    # EventBridge invokes asynchronously: Lambda retries twice (1 min, 2 min later), then the on-failure
    # destination gets the event. The rule's dead-letter queue never sees a function error.
    pipeline = offline()
    key = f"{pipeline.drop_prefix}{dataset_file.name}"
    pipeline.put(key + ".settings.json", "{not json")

    (delivery,) = pipeline.drop(dataset_file, key)

    assert not delivery.ok and "InvalidRunInput" in delivery.error
    outcome = delivery.outcome
    assert len(outcome.attempts) == 3 and not outcome.lost
    assert outcome.sent_to in pipeline.deployment.queues
    queue = pipeline.deployment.queues[outcome.sent_to]
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"]["object"]["key"] == key
    assert record["responsePayload"]["errorType"] == "InvalidRunInput"


def test_given_a_run_fails_when_the_alarm_goes_off_then_cloudwatch_may_publish_to_the_topic(offline, dataset_file):
    pipeline = offline(job_outcome="failed")
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "FAILED"
    (notice,) = pipeline.alarm_notices
    assert notice["error"] == "", notice["error"]


def test_given_lambda_times_out_its_client_when_a_task_runs_then_the_task_is_retried(offline, dataset_file):
    pipeline = offline()
    key = pipeline.upload(dataset_file)
    pipeline.fail_invocation("prepare_dataset", "ClientExecutionTimeoutException")
    pipeline.fail_invocation("await_job", "ClientExecutionTimeoutException", after_handler=False)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    failed = [e["lambdaFunctionFailedEventDetails"]["error"] for e in result.events("LambdaFunctionFailed")]
    assert failed == ["Lambda.ClientExecutionTimeoutException"]  # a Lambda task
    failed = [e["taskFailedEventDetails"]["error"] for e in result.events("TaskFailed")]
    assert failed == ["Lambda.ClientExecutionTimeoutException"]  # the callback task that waits for the job


def test_given_records_and_their_count_when_written_then_the_fixture_matches(tmp_path: Path) -> None:
    assert len(write_dataset(tmp_path / "x.jsonl").read_text().splitlines()) == RECORDS


def test_given_a_role_without_list_bucket_when_it_reads_a_missing_key_then_s3_answers_403_as_aws_does(offline):
    # GetObject/HeadObject API reference: without s3:ListBucket a missing key is 403 AccessDenied, not 404.
    pipeline = offline()
    bucket = f"arn:aws:s3:::{pipeline.bucket}"
    reads = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket}/*"}
    lists = {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket}
    answers = {}
    for name, statements in (("reader", [reads]), ("lister", [reads, lists])):
        arn = f"arn:aws:iam::123456789012:role/{name}"
        pipeline.deployment.roles[arn] = RoleDef(arn, name, {}, ({"Version": "2012-10-17", "Statement": statements},))
        with pipeline.authorizer.as_role(arn, name):
            for call in (pipeline.s3.get_object, pipeline.s3.head_object):
                with pytest.raises(ClientError) as caught:
                    call(Bucket=pipeline.bucket, Key="datasets/never-written.jsonl")
                answers[name, call.__name__] = (caught.value.response["Error"]["Code"],
                                                caught.value.response["ResponseMetadata"]["HTTPStatusCode"])  # fmt: skip
    assert answers == {("reader", "get_object"): ("AccessDenied", 403), ("reader", "head_object"): ("403", 403),
                       ("lister", "get_object"): ("NoSuchKey", 404), ("lister", "head_object"): ("404", 404)}  # fmt: skip
