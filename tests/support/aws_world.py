"""A small AWS world for handler tests: moto S3 and the simulated Bedrock behind the client factory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from distill import aws
from distill.settings import SETTINGS_ENV, PipelineSettings, load_settings
from distill_cli.offline.bedrock import SimulatedBedrock, SimulatedBedrockRuntime

BUCKET = "distill-data-bucket"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:DistillPipeline:run-1"


@dataclass
class LambdaContext:
    function_name: str = "distill-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:distill-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class World:
    s3: Any
    bedrock: SimulatedBedrock
    settings: PipelineSettings
    context: LambdaContext = field(default_factory=LambdaContext)

    def upload(self, key: str, lines: list[dict[str, Any]] | bytes) -> str:
        body = lines if isinstance(lines, bytes) else "".join(json.dumps(r) + "\n" for r in lines).encode()
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return f"s3://{BUCKET}/{key}"

    def keys(self, prefix: str) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


@contextmanager
def aws_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """moto S3 with the project's bucket, a simulated Bedrock, and the settings of a deployed pipeline."""
    settings = PipelineSettings(
        bucket_name=BUCKET,
        bedrock_role_arn="arn:aws:iam::123456789012:role/BedrockDistillRole",
    )
    monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
    load_settings.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        fake = SimulatedBedrock(s3=s3, job_checks=2)
        clients = {"s3": s3, "bedrock": fake, "bedrock-runtime": SimulatedBedrockRuntime(fake)}
        with aws.clients_from(clients.__getitem__):
            yield World(s3, fake, settings)
    load_settings.cache_clear()


def records(count: int) -> list[dict[str, str]]:
    """``count`` records in the notebook's {prompt, completion} shape."""
    return [
        {"prompt": f"Question {n}: how do I reset my password?", "completion": f"Answer {n}."} for n in range(count)
    ]


@dataclass
class RecordingTopic:
    """A fake SNS client that keeps what was published (a fake, not a mock: it has behaviour to assert on)."""

    published: list[dict[str, str]] = field(default_factory=list)

    def publish(self, **params: str) -> dict[str, str]:
        assert len(params.get("Subject", "")) <= 100, "SNS refuses subjects over 100 characters"
        self.published.append(params)
        return {"MessageId": str(len(self.published))}
