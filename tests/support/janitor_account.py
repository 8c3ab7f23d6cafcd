"""The janitor tests' account: moto's S3, SNS (delivering to an SQS inbox) and CloudWatch, the simulated Bedrock,
and the helpers that make serving, tag it and read what the topic said."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from distill import janitor
from distill.settings import PipelineSettings
from distill_cli.offline.bedrock import SimulatedBedrock

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


def names(entries: list[janitor.Entry]) -> list[str]:
    return [entry.name for entry in entries]


def reasons(report: janitor.JanitorReport) -> dict[str, str]:
    return {entry.name: entry.reason for entry in report.skipped}
