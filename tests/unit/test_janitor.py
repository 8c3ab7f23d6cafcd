"""The janitor's pure decisions (expiry, what is deleted, what is idle, when to warn, what the notice says) and
its CloudWatch and Bedrock calls against botocore's Stubber."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from distill import aws, invocation_metrics, janitor, serving_inventory
from distill.errors import BedrockAccessDenied
from distill.settings import PipelineSettings, parse_settings
from tests.support.aws_world import RecordingTopic

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PT = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
OD = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
OURS = {"created-by": "distill-pipeline"}
SETTINGS = PipelineSettings(bucket_name="b", bedrock_role_arn="arn:aws:iam::123456789012:role/R",
                            notification_topic_arn="arn:aws:sns:us-east-1:123456789012:notices")  # fmt: skip


def serving(tags: dict[str, str], *, kind: janitor.Kind = "provisioned-throughput", status: str = "InService",
            commitment: str = "", created: datetime = NOW - timedelta(days=2)) -> janitor.Serving:  # fmt: skip
    return janitor.Serving(kind, PT if kind == "provisioned-throughput" else OD, "s-1", status, MODEL,
                           created.isoformat(), commitment, tags)  # fmt: skip


# --- the expiry tag ----------------------------------------------------------------------------------------
def test_given_a_ttl_when_the_expiry_tag_is_made_then_it_is_iso_utc_in_whole_seconds() -> None:
    paris = timezone(timedelta(hours=1))
    assert janitor.expiry_tag(datetime(2026, 12, 1, 9, 30, 15, 999_999, tzinfo=paris), 1.5) == {
        "distill:expires-at": "2026-12-01T10:00:15Z"
    }
    assert janitor.expiry_tag(NOW, 24) == {"distill:expires-at": "2026-12-02T10:00:00Z"}


def test_given_the_expiry_tag_when_checked_against_bedrocks_model_then_key_and_value_are_valid_tags() -> None:
    model = botocore.session.get_session().get_service_model("bedrock")
    ((key, value),) = janitor.expiry_tag(NOW, 72).items()
    for shape, text in (("TagKey", key), ("TagValue", value)):
        meta = model.shape_for(shape).metadata
        assert re.fullmatch(meta["pattern"], text) and meta.get("min", 0) <= len(text) <= meta["max"]


@pytest.mark.parametrize(("now", "hours"), [(datetime(2026, 12, 1), 1), (NOW, 0), (NOW, -2)])
def test_given_a_naive_time_or_no_ttl_when_the_expiry_tag_is_made_then_it_is_refused(now: datetime,
                                                                                      hours: float) -> None:  # fmt: skip
    with pytest.raises(ValueError):
        janitor.expiry_tag(now, hours)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T10:00:00Z", NOW),
        ("2026-12-01T11:00:00+01:00", NOW),
        ("2026-12-01T10:00:00", None),  # no zone: not ours
        ("tomorrow", None),
        ("", None),
    ],
)
def test_given_a_tag_value_when_parsed_then_only_a_time_with_a_zone_counts(value: str, expected: Any) -> None:
    assert janitor.parse_expiry(value) == expected


# --- what a sweep does with each resource ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (serving({"team": "search", "distill:expires-at": "2026-01-01T00:00:00Z"}), janitor.UNTAGGED),
        (serving({**OURS, "distill:expires-at": "2026-01-01T00:00:00Z"}, commitment="OneMonth"), janitor.COMMITMENT),
        (serving(OURS), janitor.NO_EXPIRY),
        (serving({**OURS, "distill:expires-at": "soon"}), janitor.BAD_EXPIRY),
        (serving({**OURS, "distill:expires-at": "2026-12-01T10:00:01Z"}), janitor.NOT_EXPIRED),
        (serving({**OURS, "distill:expires-at": "2026-12-01T09:00:00Z"}, status="Updating"), janitor.NOT_IN_SERVICE),
        (
            serving({**OURS, "distill:expires-at": "2026-12-01T09:00:00Z"}, kind="on-demand-deployment",
                    status="Creating"),
            janitor.NOT_IN_SERVICE,
        ),
        (serving({**OURS, "distill:expires-at": "2026-12-01T10:00:00Z"}), janitor.EXPIRED),
        (
            serving({**OURS, "distill:expires-at": "2026-12-01T09:00:00Z"}, kind="on-demand-deployment",
                    status="Active"),
            janitor.EXPIRED,
        ),
    ],
)
def test_given_a_resource_when_classified_then_only_the_pipelines_expired_no_commitment_serving_is_deleted(
    item: janitor.Serving, reason: str
) -> None:
    assert janitor.classify(item, NOW).reason == reason


@pytest.mark.parametrize(
    ("item", "watched"),
    [
        (serving(OURS), True),
        (serving({**OURS, "distill:expires-at": "2026-12-05T00:00:00Z"}), True),
        (serving(OURS, created=NOW - timedelta(hours=23)), False),  # too young to have been idle 24 h
        (serving(OURS, status="Creating"), False),
        (serving(OURS, commitment="SixMonths"), False),
        (serving({"team": "search"}), False),
        (serving({**OURS, "distill:expires-at": "2026-12-01T09:00:00Z"}), False),  # deleted instead
    ],
)
def test_given_a_resource_when_idleness_is_considered_then_only_the_pipelines_staying_serving_is_watched(
    item: janitor.Serving, watched: bool
) -> None:
    assert janitor.watched_for_idleness(item, janitor.classify(item, NOW), NOW, 24) is watched
    assert janitor.watched_for_idleness(item, janitor.classify(item, NOW), NOW, 0) is False  # 0 = off


# --- once a day ---------------------------------------------------------------------------------------------
def test_given_the_same_idle_resource_twice_in_a_day_when_warnings_are_due_then_it_is_warned_about_once() -> None:
    due, memory = janitor.due_warnings([PT], {}, "2026-12-01")
    assert (due, memory) == ([PT], {PT: "2026-12-01"})
    again, same = janitor.due_warnings([PT], memory, "2026-12-01")
    assert (again, same) == ([], memory)
    next_day, newer = janitor.due_warnings([PT], same, "2026-12-02")
    assert (next_day, newer) == ([PT], {PT: "2026-12-02"})


def test_given_a_resource_no_longer_idle_when_warnings_are_due_then_the_memory_forgets_it() -> None:
    due, memory = janitor.due_warnings([OD], {PT: "2026-12-01", OD: "2026-12-01"}, "2026-12-01")
    assert (due, memory) == ([], {OD: "2026-12-01"})


# --- the notice ---------------------------------------------------------------------------------------------
def _report(**lists: list[janitor.Entry]) -> janitor.JanitorReport:
    return janitor.JanitorReport(checked_at="2026-12-01T10:00:00Z", idle_warning_hours=24, **lists)


def test_given_only_skipped_or_failed_resources_when_notified_then_nothing_is_published() -> None:
    topic = RecordingTopic()
    kept = janitor.Entry("provisioned-throughput", "s-1", PT, janitor.NOT_EXPIRED)
    failed = janitor.Entry("provisioned-throughput", "s-1", PT, janitor.DELETE_FAILED, "AccessDenied")
    with aws.clients_from(lambda service: topic):
        assert janitor.notify(_report(skipped=[kept], failed=[failed]), SETTINGS) is False
        assert janitor.notify(_report(), SETTINGS) is False
    assert topic.published == []


def test_given_deleted_and_idle_resources_when_notified_then_one_notice_names_them_all() -> None:
    topic = RecordingTopic()
    deleted = janitor.Entry("provisioned-throughput", "old-pt", PT, janitor.EXPIRED, expires_at="2026-12-01T09:00:00Z")
    idle = janitor.Entry("on-demand-deployment", "quiet-od", OD, janitor.IDLE, "no invocations in 24 h")
    with aws.clients_from(lambda service: topic):
        assert janitor.notify(_report(deleted=[deleted], idle=[idle]), SETTINGS) is True
    (notice,) = topic.published
    assert notice["TopicArn"] == SETTINGS.notification_topic_arn
    assert notice["Subject"] == "distill janitor: 1 deleted, 1 idle"
    assert "provisioned throughput old-pt (expired 2026-12-01T09:00:00Z)" in notice["Message"]
    assert "on-demand deployment quiet-od: billed per token only" in notice["Message"]
    assert PT in notice["Message"] and OD in notice["Message"]


def test_given_no_topic_when_notified_then_nothing_is_published() -> None:
    topic = RecordingTopic()
    idle = janitor.Entry("on-demand-deployment", "quiet-od", OD, janitor.IDLE)
    with aws.clients_from(lambda service: topic):
        assert janitor.notify(_report(idle=[idle]), PipelineSettings(bucket_name="b", bedrock_role_arn="r")) is False
    assert topic.published == []


def test_given_settings_without_idle_warning_hours_when_parsed_then_the_default_is_24() -> None:
    assert parse_settings('{"bucketName": "b", "bedrockRoleArn": "r"}').idle_warning_hours == 24
    assert parse_settings('{"bucketName": "b", "bedrockRoleArn": "r", "idleWarningHours": 0}').idle_warning_hours == 0
    with pytest.raises(ValueError, match="idleWarningHours"):
        parse_settings('{"bucketName": "b", "bedrockRoleArn": "r", "idleWarningHours": -1}')


# --- CloudWatch: every page, 500 queries a call ----------------------------------------------------------------
@pytest.fixture
def cloudwatch() -> Iterator[Stubber]:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(client) as stub, aws.clients_from(lambda service: client):
        yield stub
        stub.assert_no_pending_responses()


def _result(query_id: str, *values: float) -> dict[str, Any]:
    return {"Id": query_id, "Label": "Invocations", "Timestamps": [NOW] * len(values), "Values": list(values),
            "StatusCode": "Complete"}  # fmt: skip


def test_given_data_on_two_pages_when_invocations_are_summed_then_both_pages_count(cloudwatch: Stubber) -> None:
    start = NOW - timedelta(hours=24)
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [_result("m0", 2.0), _result("m1")],
                                                "NextToken": "more"})  # fmt: skip
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [_result("m0", 1.0), _result("m1")]})
    assert invocation_metrics.invocation_totals([PT, MODEL], start, NOW) == {PT: 3.0, MODEL: 0.0}
    # (the fixture checks that both pages were asked for)


def test_given_more_than_500_model_ids_when_invocations_are_summed_then_the_queries_are_split(
    cloudwatch: Stubber,
) -> None:
    ids = [f"{PT[:-12]}{n:012d}" for n in range(501)]
    start = NOW - timedelta(hours=24)

    def asked(chunk: list[str]) -> dict[str, Any]:
        queries = [{"Id": f"m{n}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/Bedrock", "MetricName": "Invocations",
                       "Dimensions": [{"Name": "ModelId", "Value": value}]}, "Period": 3600, "Stat": "Sum"}}
            for n, value in enumerate(chunk)]  # fmt: skip
        return {"MetricDataQueries": queries, "StartTime": start, "EndTime": NOW}

    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [_result(f"m{n}") for n in range(500)]},
                            asked(ids[:500]))  # fmt: skip
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [_result("m0", 4.0)]}, asked(ids[500:]))
    totals = invocation_metrics.invocation_totals(ids, start, NOW)
    assert len(totals) == 501 and totals[ids[500]] == 4.0 and sum(totals.values()) == 4.0


def test_given_a_query_when_sent_then_it_asks_aws_bedrock_invocations_by_model_id(cloudwatch: Stubber) -> None:
    start = NOW - timedelta(hours=24)
    expected = {
        "MetricDataQueries": [{"Id": "m0", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/Bedrock", "MetricName": "Invocations",
                       "Dimensions": [{"Name": "ModelId", "Value": OD}]},
            "Period": 3600, "Stat": "Sum"}}],
        "StartTime": start, "EndTime": NOW,
    }  # fmt: skip
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [_result("m0")]}, expected)
    assert invocation_metrics.invocation_totals([OD], start, NOW) == {OD: 0.0}


# --- Bedrock: deleting serving ---------------------------------------------------------------------------------
@pytest.fixture
def control() -> Iterator[Stubber]:
    client = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(client) as stub, aws.clients_from(lambda service: client):
        yield stub
        stub.assert_no_pending_responses()


def test_given_serving_arns_when_deleted_then_each_kind_goes_to_its_own_call(control: Stubber) -> None:
    control.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT})
    control.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": OD})
    assert serving_inventory.delete_serving(PT) == "deleted"
    assert serving_inventory.delete_serving(OD) == "deleted"
    with pytest.raises(ValueError, match="not a provisioned throughput"):
        serving_inventory.delete_serving(MODEL)


@pytest.mark.parametrize(("code", "outcome"), [("ResourceNotFoundException", "gone"), ("ConflictException", "busy")])
def test_given_serving_gone_or_busy_when_deleted_then_the_outcome_says_so(control: Stubber, code: str,
                                                                          outcome: str) -> None:  # fmt: skip
    control.add_client_error("delete_custom_model_deployment", service_error_code=code)
    assert serving_inventory.delete_serving(OD) == outcome


def test_given_access_denied_when_serving_is_deleted_then_the_error_is_translated(control: Stubber) -> None:
    control.add_client_error("delete_provisioned_model_throughput", service_error_code="AccessDeniedException")
    with pytest.raises(BedrockAccessDenied, match="DeleteProvisionedModelThroughput"):
        serving_inventory.delete_serving(PT)


def test_given_throughputs_on_two_pages_when_all_are_listed_then_each_comes_with_its_tags_and_commitment(
    control: Stubber,
) -> None:
    other = PT.replace("abcdef123456", "0123456789ab")

    def summary(arn: str, **extra: Any) -> dict[str, Any]:
        return {"provisionedModelName": arn[-4:], "provisionedModelArn": arn, "modelArn": MODEL,
                "desiredModelArn": MODEL, "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/a.b",
                "modelUnits": 1, "desiredModelUnits": 1, "status": "InService", "creationTime": NOW,
                "lastModifiedTime": NOW, **extra}  # fmt: skip

    control.add_response("list_provisioned_model_throughputs",
                         {"provisionedModelSummaries": [summary(PT)], "nextToken": "p2"}, {})  # fmt: skip
    control.add_response("list_tags_for_resource", {"tags": [{"key": "created-by", "value": "distill-pipeline"}]},
                         {"resourceARN": PT})  # fmt: skip
    control.add_response("list_provisioned_model_throughputs",
                         {"provisionedModelSummaries": [summary(other, commitmentDuration="OneMonth")]},
                         {"nextToken": "p2"})  # fmt: skip
    control.add_response("list_tags_for_resource", {"tags": []}, {"resourceARN": other})
    mine, theirs = serving_inventory.all_throughputs()
    assert (mine.arn, mine.commitment, mine.model_arn, mine.tags) == (PT, "", MODEL, OURS)
    assert (theirs.arn, theirs.commitment, theirs.tags) == (other, "OneMonth", {})
