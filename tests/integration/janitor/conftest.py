"""The janitor tests' fixture: a fresh account (tests/support/janitor_account.py) wired into distill.aws."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from distill import aws
from distill.settings import SETTINGS_ENV, PipelineSettings, load_settings
from distill_cli.offline.bedrock import SimulatedBedrock
from tests.support.janitor_account import BUCKET, T0, Account


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
