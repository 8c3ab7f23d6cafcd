"""The janitor against moto's S3, SNS and CloudWatch and the simulated Bedrock: it deletes only the pipeline's
expired no-commitment serving, warns about idle serving once a day, and says nothing when there is nothing to
say; the scheduled function around it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from distill import clock, janitor
from handlers import janitor as janitor_handler
from tests.support.aws_world import LambdaContext
from tests.support.janitor_account import BUCKET, MEMORY_KEY, OURS, T0, Account, expires, names, reasons


# --- deleting what expired ---------------------------------------------------------------------------------
def test_given_an_expired_throughput_and_deployment_when_swept_then_both_are_deleted_and_reported(
    account: Account,
) -> None:
    pt = account.throughput("hourly-0", expires(T0 + timedelta(hours=2)))
    od = account.deployment("od-1", expires(T0 + timedelta(hours=2)))
    report = account.sweep(T0 + timedelta(hours=3))
    assert account.bedrock.throughputs[pt].deleted and account.bedrock.deployments[od].deleted
    assert sorted(names(report.deleted)) == ["hourly-0", "od-1"]
    assert {e.expires_at for e in report.deleted} == {"2026-11-20T02:00:00Z"}
    (notice,) = account.notices()
    assert notice["Subject"] == "distill janitor: 2 deleted"
    assert pt in notice["Message"] and od in notice["Message"]


def test_given_an_expired_throughput_with_a_commitment_when_swept_then_it_is_never_deleted(
    account: Account,
) -> None:
    committed = account.throughput("committed-0", expires(T0), commitment="OneMonth")
    report = account.sweep(T0 + timedelta(days=40))
    assert not account.bedrock.throughputs[committed].deleted
    assert account.bedrock.calls_of("DeleteProvisionedModelThroughput") == []
    assert reasons(report) == {"committed-0": janitor.COMMITMENT}
    assert report.deleted == [] and account.notices() == []


def test_given_serving_without_the_pipeline_tag_when_swept_then_it_is_never_touched(account: Account) -> None:
    # Even with an expiry tag (someone copied ours): only the pipeline's tag makes a resource the janitor's.
    theirs = account.throughput("theirs-0", {"team": "search", "distill:expires-at": "2026-11-19T00:00:00Z"})
    their_od = account.deployment("theirs-od-1", {"team": "search"})
    report = account.sweep(T0 + timedelta(days=3))
    assert not account.bedrock.throughputs[theirs].deleted and not account.bedrock.deployments[their_od].deleted
    assert account.bedrock.calls_of("DeleteProvisionedModelThroughput") == []
    assert account.bedrock.calls_of("DeleteCustomModelDeployment") == []
    assert reasons(report) == {"theirs-0": janitor.UNTAGGED, "theirs-od-1": janitor.UNTAGGED}
    assert report.idle == []  # not ours: no warning either


def test_given_serving_that_has_not_expired_yet_when_swept_then_it_is_kept(account: Account) -> None:
    later = account.throughput("later-0", expires(T0 + timedelta(hours=48)))
    report = account.sweep(T0 + timedelta(hours=47, minutes=59))
    assert not account.bedrock.throughputs[later].deleted
    (kept,) = report.skipped
    assert (kept.reason, kept.expires_at) == (janitor.NOT_EXPIRED, "2026-11-22T00:00:00Z")


def test_given_expired_serving_that_is_not_in_service_when_swept_then_a_later_sweep_deletes_it(
    account: Account,
) -> None:
    account.bedrock.throughput_checks = 1  # Creating until looked at once
    pt = account.throughput("slow-0", expires(T0))
    first = account.sweep(T0 + timedelta(hours=1))
    assert reasons(first) == {"slow-0": janitor.NOT_IN_SERVICE}
    assert not account.bedrock.throughputs[pt].deleted
    account.bedrock.get_provisioned_model_throughput(provisionedModelId=pt)  # now InService
    second = account.sweep(T0 + timedelta(hours=2))
    assert names(second.deleted) == ["slow-0"] and account.bedrock.throughputs[pt].deleted


def test_given_serving_deleted_meanwhile_or_busy_when_swept_then_it_is_no_failure(account: Account) -> None:
    account.throughput("gone-0", expires(T0))
    account.deployment("busy-od-1", expires(T0))
    account.bedrock.fail_next("DeleteProvisionedModelThroughput", "ResourceNotFoundException")
    account.bedrock.fail_next("DeleteCustomModelDeployment", "ConflictException")
    report = account.sweep(T0 + timedelta(hours=1))
    assert reasons(report) == {"gone-0": janitor.GONE, "busy-od-1": janitor.BUSY}
    assert report.failed == [] and report.deleted == []


def test_given_many_pages_of_serving_when_swept_then_every_page_is_read(account: Account) -> None:
    account.bedrock.list_page_size = 1
    expired = [account.throughput(f"pt-{n}", expires(T0)) for n in range(3)]
    deployments = [account.deployment(f"od-{n}", expires(T0)) for n in range(3, 5)]
    report = account.sweep(T0 + timedelta(hours=1))
    assert all(account.bedrock.throughputs[arn].deleted for arn in expired)
    assert all(account.bedrock.deployments[arn].deleted for arn in deployments)
    assert len(report.deleted) == 5
    tokens = [c.get("nextToken") for c in account.bedrock.calls_of("ListProvisionedModelThroughputs")]
    assert tokens == [None, "page-1", "page-2"]


# --- idle serving ------------------------------------------------------------------------------------------
def test_given_idle_serving_when_swept_hourly_then_it_is_warned_about_once_a_day(account: Account) -> None:
    idle = account.throughput("idle-0", OURS)
    first = account.sweep(T0 + timedelta(hours=25))
    assert names(first.idle) == ["idle-0"]
    (notice,) = account.notices()
    assert notice["Subject"] == "distill janitor: 1 idle"
    assert idle in notice["Message"] and "billed by the hour" in notice["Message"]
    memory = json.loads(account.s3.get_object(Bucket=BUCKET, Key=MEMORY_KEY)["Body"].read())
    assert memory == {"warned": {idle: "2026-11-21"}}

    again = account.sweep(T0 + timedelta(hours=26))  # same UTC day
    assert again.idle == [] and account.notices() == []

    next_day = account.sweep(T0 + timedelta(hours=49))
    assert names(next_day.idle) == ["idle-0"]
    assert [n["Subject"] for n in account.notices()] == ["distill janitor: 1 idle"]


def test_given_a_damaged_memory_when_swept_then_it_starts_again_and_warns(account: Account) -> None:
    idle = account.throughput("idle-0", OURS)
    account.s3.put_object(Bucket=BUCKET, Key=MEMORY_KEY, Body=b"{not json")
    report = account.sweep(T0 + timedelta(hours=25))
    assert names(report.idle) == ["idle-0"]
    assert json.loads(account.s3.get_object(Bucket=BUCKET, Key=MEMORY_KEY)["Body"].read()) == {
        "warned": {idle: "2026-11-21"}
    }


class BrokenCloudWatch:
    def get_metric_data(self, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "GetMetricData")


def test_given_cloudwatch_refuses_when_swept_then_expired_serving_is_still_deleted_and_nobody_is_called_idle(
    account: Account,
) -> None:
    account.clients["cloudwatch"] = BrokenCloudWatch()
    expired = account.throughput("expired-0", expires(T0))
    account.throughput("idle-1", OURS)
    report = account.sweep(T0 + timedelta(hours=25))
    assert account.bedrock.throughputs[expired].deleted and report.idle == []
    (failure,) = report.failed
    assert failure.reason == janitor.IDLE_CHECK_FAILED and "AccessDenied" in failure.detail


def test_given_serving_invoked_in_the_window_when_swept_then_it_is_not_idle(account: Account) -> None:
    # Bedrock's guide does not say which ModelId a provisioned model's requests are counted under: the serving
    # ARN and the custom model's ARN both count.
    by_arn = account.throughput("used-0", OURS)
    account.deployment("used-od-1", OURS)
    account.invoked(by_arn, T0 + timedelta(hours=20), count=3)
    od_model = account.bedrock.deployments[next(iter(account.bedrock.deployments))].request["modelArn"]
    account.invoked(od_model, T0 + timedelta(hours=23))
    report = account.sweep(T0 + timedelta(hours=25))
    assert report.idle == [] and account.notices() == []


def test_given_serving_younger_than_the_window_when_swept_then_it_is_not_called_idle(account: Account) -> None:
    account.throughput("young-0", OURS)
    report = account.sweep(T0 + timedelta(hours=23))
    assert report.idle == [] and account.notices() == []


def test_given_nothing_to_delete_or_warn_when_swept_then_no_notice_is_sent(account: Account) -> None:
    used = account.throughput("used-0", expires(T0 + timedelta(days=7)))
    account.invoked(used, T0 + timedelta(hours=24))
    account.throughput("theirs-1", {"team": "search"})
    report = account.sweep(T0 + timedelta(hours=25))
    assert not report.newsworthy
    assert account.notices() == []
    assert account.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0  # nothing to remember either


# --- the scheduled function ------------------------------------------------------------------------------
SCHEDULED = {"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2026-11-21T01:00:00Z", "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/DistillJanitor"], "detail": {}}  # fmt: skip


def test_given_the_hourly_schedule_when_the_handler_runs_then_it_sweeps_on_the_clock_and_notifies(
    account: Account,
) -> None:
    pt = account.throughput("hourly-0", expires(T0 + timedelta(hours=1)))
    with clock.use(lambda: (T0 + timedelta(hours=25)).timestamp(), lambda seconds: None):
        result = janitor_handler.handler(SCHEDULED, LambdaContext())
    assert account.bedrock.throughputs[pt].deleted
    assert [e["name"] for e in result["deleted"]] == ["hourly-0"] and result["notified"] is True
    assert result["checked_at"] == "2026-11-21T01:00:00Z"
    assert [n["Subject"] for n in account.notices()] == ["distill janitor: 1 deleted"]


def test_given_a_delete_that_fails_when_the_handler_runs_then_it_tells_what_it_did_and_fails_loudly(
    account: Account,
) -> None:
    done = account.throughput("hourly-0", expires(T0))
    account.deployment("denied-od-1", expires(T0))
    account.bedrock.fail_next("DeleteCustomModelDeployment", "AccessDeniedException")
    with (clock.use(lambda: (T0 + timedelta(hours=1)).timestamp(), lambda seconds: None),
          pytest.raises(janitor_handler.JanitorIncomplete, match="denied-od-1")):  # fmt: skip
        janitor_handler.handler(SCHEDULED, LambdaContext())
    assert account.bedrock.throughputs[done].deleted
    (notice,) = account.notices()
    assert "Could not be handled" in notice["Message"] and "AccessDeniedException" in notice["Message"]


def test_given_a_dry_run_event_when_the_handler_runs_then_nothing_is_deleted_remembered_or_published(
    account: Account,
) -> None:
    pt = account.throughput("hourly-0", expires(T0))
    account.throughput("idle-1", OURS)
    with clock.use(lambda: (T0 + timedelta(hours=25)).timestamp(), lambda seconds: None):
        result = janitor_handler.handler({"dryRun": True}, LambdaContext())
    assert [e["name"] for e in result["would_delete"]] == ["hourly-0"]
    assert [e["name"] for e in result["idle"]] == ["idle-1"]
    assert not account.bedrock.throughputs[pt].deleted and account.notices() == []
    assert account.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
