"""S3 locations: parsing, printing, and the key layout of one run inside the project's bucket."""

from __future__ import annotations

import re
from dataclasses import dataclass

from distill.settings import BucketLayout

# What Bedrock accepts as trainingDataConfig/outputDataConfig s3Uri (botocore model).
BEDROCK_S3_URI = re.compile(
    r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
)
VALIDATION_REPORT = "validation-report.json"
SUMMARY = "summary.json"
LOGS_PREVIEW = "invocation-logs-preview.json"
_BUCKET = re.compile(r"[a-z0-9][-.a-z0-9]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # an object key, or a prefix ending with '/'

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"not a valid bucket name in {uri!r}")
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_prefix(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    def child(self, name: str) -> S3Location:
        return S3Location(self.bucket, f"{self.key}{name}")


@dataclass(frozen=True)
class RunLocations:
    """Where one run keeps what it makes. The run id is slug-safe, so every URI suits Bedrock's pattern."""

    bucket: str
    layout: BucketLayout
    run_id: str

    @property
    def dataset(self) -> S3Location:
        return S3Location(self.bucket, f"{self.layout.datasets_prefix}{self.run_id}/train.jsonl")

    @property
    def holdout(self) -> S3Location:
        """The records kept out of training to evaluate the student on (distill.evaluation.holdout)."""
        return S3Location(self.bucket, f"{self.layout.datasets_prefix}{self.run_id}/train.holdout.jsonl")

    @property
    def job_output(self) -> S3Location:
        return S3Location(self.bucket, f"{self.layout.jobs_prefix}{self.run_id}/")

    @property
    def reports(self) -> S3Location:
        return S3Location(self.bucket, f"{self.layout.reports_prefix}{self.run_id}/")

    @property
    def validation_report(self) -> S3Location:
        return self.reports.child(VALIDATION_REPORT)

    @property
    def summary(self) -> S3Location:
        return self.reports.child(SUMMARY)
