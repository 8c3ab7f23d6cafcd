"""The janitor against moto's S3, SNS and CloudWatch and the simulated Bedrock: it deletes only the pipeline's
expired no-commitment serving, warns about idle serving once a day, and says nothing when there is nothing to
say. ``distill cleanup --expired`` runs the same sweep by hand."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from distill import aws, clock, janitor
from distill.settings import SETTINGS_ENV, PipelineSettings, load_settings
from distill_cli.commands import cleanup
from distill_cli.offline.bedrock import SimulatedBedrock
from handlers import janitor as janitor_handler
from tests.support.aws_world import LambdaContext

BUCKET = "distill-data-bucket"
T0 = datetime(2026, 11, 20, tzinfo=UTC)  # midnight UTC: T0 + 25 h and T0 + 26 h fall on the same day
OURS = {"created-by": "distill-pipeline", "distill:run-id": "run-1"}
MEMORY_KEY = "reports/janitor/idle-warnings.json"


def expires(at: datetime) -> dict[str, str]:
    return {**OURS, "distill:expires-at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


@dataclass
class Account:
    bedrock: SimulatedBedrock
    s3: Any
    cloudwatch: Any
    sqs: Any
    queue_url: str
    settings: PipelineSettings
    moment: list[float]
    clients: dict[str, Any]

    def model(self, name: str) -> str:
        """A completed job's custom model."""
        self.bedrock.create_model_customization_job(
            jobName=f"job-{name}", customModelName=f"model-{name}", roleArn="arn:aws:iam::123456789012:role/r",
            baseModelIdentifier="amazon.nova-micro-v1:0:128k", trainingDataConfig={"s3Uri": "s3://bucket-x/d"},
            outputDataConfig={"s3Uri": "s3://bucket-x/o"}, clientRequestToken=f"t-{name}",
        )  # fmt: skip
        job = next(j for j in self.bedrock.jobs.values() if j.name == f"job-{name}")
        return self.bedrock.model_arn(job)

    def throughput(self, name: str, tags: dict[str, str], commitment: str | None = None) -> str:
        extra = {"commitmentDuration": commitment} if commitment else {}
        return str(self.bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=name, modelId=self.model(name), clientRequestToken=name,
            tags=[{"key": k, "value": v} for k, v in tags.items()], **extra,
        )["provisionedModelArn"])  # fmt: skip

    def deployment(self, name: str, tags: dict[str, str]) -> str:
        return str(self.bedrock.create_custom_model_deployment(
            modelDeploymentName=name, modelArn=self.model(name), clientRequestToken=name,
            tags=[{"key": k, "value": v} for k, v in tags.items()],
        )["customModelDeploymentArn"])  # fmt: skip

    def invoked(self, model_id: str, at: datetime, count: int = 1) -> None:
        """What Bedrock publishes when it serves requests (namespace AWS/Bedrock, dimension ModelId)."""
        self.cloudwatch.put_metric_data(Namespace="AWS/Bedrock", MetricData=[{
            "MetricName": "Invocations", "Dimensions": [{"Name": "ModelId", "Value": model_id}],
            "Timestamp": at, "Value": count, "Unit": "Count"}])  # fmt: skip

    def notices(self) -> list[dict[str, str]]:
        """Every notice the topic delivered since the last call (through an SQS subscription)."""
        found = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return found
            for message in got:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def sweep(self, at: datetime, **options: Any) -> janitor.JanitorReport:
        report = janitor.sweep(self.settings, at, **options)
        janitor.notify(report, self.settings)
        return report


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="distill-notices")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        moment = [T0.timestamp()]
        fake = SimulatedBedrock(job_checks=0, throughput_checks=0, deployment_checks=0, now=lambda: moment[0])
        settings = PipelineSettings(bucket_name=BUCKET, bedrock_role_arn="arn:aws:iam::123456789012:role/R",
                                    notification_topic_arn=topic)  # fmt: skip
        monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
        load_settings.cache_clear()
        clients = {"s3": s3, "sns": sns, "cloudwatch": cloudwatch, "bedrock": fake}
        with aws.clients_from(clients.__getitem__):
            yield Account(fake, s3, cloudwatch, sqs, queue_url, settings, moment, clients)
    load_settings.cache_clear()


def names(entries: list[janitor.Entry]) -> list[str]:
    return [entry.name for entry in entries]


def reasons(report: janitor.JanitorReport) -> dict[str, str]:
    return {entry.name: entry.reason for entry in report.skipped}


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


# --- distill cleanup --expired ---------------------------------------------------------------------------
def _args(**options: Any) -> argparse.Namespace:
    defaults = {"yes": False, "list": False, "unit_price": None, "expired": True, "json": False, "idle_hours": 24}
    return argparse.Namespace(**{**defaults, **options})


@pytest.fixture
def now_is_t0_plus_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI sweeps at the wall clock's time: make that T0 + 25 h."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return T0 + timedelta(hours=25)

    monkeypatch.setattr(cleanup, "datetime", Clock)


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_expired_and_other_serving_when_cleanup_expired_runs_with_yes_then_only_the_expired_is_deleted(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = account.throughput("expired-0", expires(T0))
    later = account.deployment("later-od-1", expires(T0 + timedelta(days=3)))
    committed = account.throughput("committed-2", expires(T0), commitment="SixMonths")
    theirs = account.throughput("theirs-3", {"team": "search", "distill:expires-at": "2026-11-01T00:00:00Z"})
    assert cleanup.run(_args(yes=True), ask=lambda q: pytest.fail("must not ask")) == 0
    assert account.bedrock.throughputs[expired].deleted
    assert not account.bedrock.deployments[later].deleted
    assert not account.bedrock.throughputs[committed].deleted and not account.bedrock.throughputs[theirs].deleted
    out = capsys.readouterr().out
    assert "deleted       throughput expired-0" in out and "theirs-3" not in out
    assert "kept          throughput committed-2  commitment (SixMonths)" in out
    assert "1 deleted, 0 would be deleted, 2 kept" in out
    assert account.notices() == []  # by hand: nothing published
    assert account.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0  # ... nor remembered


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_expired_serving_when_cleanup_expired_asks_then_only_what_is_confirmed_is_deleted(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    yes = account.throughput("yes-0", expires(T0))
    no = account.deployment("no-od-1", expires(T0))
    asked: list[str] = []
    assert cleanup.run(_args(), ask=lambda q: asked.append(q) or ("y" if "yes-0" in q else "n")) == 0
    assert asked == ["delete yes-0? [y/N] ", "delete no-od-1? [y/N] "]
    assert account.bedrock.throughputs[yes].deleted and not account.bedrock.deployments[no].deleted
    assert "kept          deployment no-od-1  declined" in capsys.readouterr().out


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_list_when_cleanup_expired_runs_then_it_shows_what_it_would_delete_and_deletes_nothing(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = account.throughput("expired-0", expires(T0))
    account.deployment("idle-od-1", OURS)
    assert cleanup.run(_args(list=True), ask=lambda q: pytest.fail("must not ask")) == 0
    assert not account.bedrock.throughputs[expired].deleted
    out = capsys.readouterr().out
    assert "would delete  throughput expired-0  expired 2026-11-20T00:00:00Z" in out
    assert "idle          deployment idle-od-1  no invocations in 24 h" in out


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_json_when_cleanup_expired_runs_then_stdout_is_the_sweeps_report(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account.throughput("expired-0", expires(T0))
    assert cleanup.run(_args(yes=True, json=True)) == 0
    report = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in report["deleted"]] == ["expired-0"]
    assert report["checked_at"] == "2026-11-21T01:00:00Z" and report["idle_warning_hours"] == 24


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_no_terminal_when_cleanup_expired_would_ask_then_it_deletes_nothing_and_exits_2(
    account: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = account.throughput("expired-0", expires(T0))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cleanup.run(_args()) == 2
    assert not account.bedrock.throughputs[expired].deleted
    assert "pass --yes" in capsys.readouterr().err


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_a_delete_that_fails_when_cleanup_expired_runs_then_it_exits_1(account: Account) -> None:
    account.throughput("expired-0", expires(T0))
    account.bedrock.fail_next("DeleteProvisionedModelThroughput", "AccessDeniedException")
    assert cleanup.run(_args(yes=True)) == 1
