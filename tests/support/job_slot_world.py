"""The job-slot tests' world: a fake Step Functions that knows which tasks are gone, a fake Service Quotas, an S3
that lets another writer in between read and write, and the helpers that start runs and read the ledger."""

from __future__ import annotations

import json
import threading
from typing import Any

import msgspec
import pytest
from botocore.exceptions import ClientError

from distill import aws, job_slots
from distill.settings import SETTINGS_ENV, load_settings
from distill_cli.offline import api_model
from handlers import check_run_settings, take_job_slot
from tests.support.aws_world import BUCKET, World

LEDGER = "queue/ledger.json"
MACHINE = "arn:aws:states:us-east-1:123456789012:execution:DistillPipeline:"


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    """An AWS error whose message is its code (the offline world's helper)."""
    return api_model.client_error(code, code, operation, status)


class StepFunctions:
    """A fake with behaviour: a token answers once (then TaskTimedOut, as AWS says for a closed task); tokens in
    ``closed`` belong to tasks that timed out or runs that ended; tokens in ``throttled`` fail for now.
    ``executions`` gives DescribeExecution's status (RUNNING when not listed). Thread-safe."""

    def __init__(self) -> None:
        self.answered: dict[str, Any] = {}
        self.closed: set[str] = set()
        self.throttled: set[str] = set()
        self.executions: dict[str, str] = {}
        self.described: list[str] = []
        self.lock = threading.Lock()
        self.events: dict[str, threading.Event] = {}

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        with self.lock:
            if taskToken in self.throttled:
                raise client_error("ThrottlingException", "SendTaskSuccess")
            if taskToken in self.answered or taskToken in self.closed:
                raise client_error("TaskTimedOut", "SendTaskSuccess")
            self.answered[taskToken] = json.loads(output)
            event = self.events.setdefault(taskToken, threading.Event())
        event.set()
        return {}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.described.append(executionArn)
        return {"executionArn": executionArn, "status": self.executions.get(executionArn, "RUNNING")}

    def answer_of(self, token: str, timeout: float = 30.0) -> dict[str, Any]:
        with self.lock:
            event = self.events.setdefault(token, threading.Event())
        assert event.wait(timeout), f"{token} was never answered"
        return dict(self.answered[token])


class ServiceQuotas:
    """A fake: ``applied``/``default`` are the values, or an error code to raise. Counts the calls."""

    def __init__(self, applied: float | str = 3.0, default: float | str = 2.0) -> None:
        self.applied, self.default = applied, default
        self.calls: list[str] = []

    def _quota(self, value: float | str, operation: str, **params: str) -> dict[str, Any]:
        self.calls.append(operation)
        assert params == {"ServiceCode": "bedrock", "QuotaCode": "L-0406044C"}
        if isinstance(value, str):
            raise client_error(value, operation)
        return {"Quota": {"ServiceCode": "bedrock", "QuotaCode": "L-0406044C", "Value": value,
                          "QuotaName": job_slots.QUOTA_NAME}}  # fmt: skip

    def get_service_quota(self, **params: str) -> dict[str, Any]:
        return self._quota(self.applied, "GetServiceQuota", **params)

    def get_aws_default_service_quota(self, **params: str) -> dict[str, Any]:
        return self._quota(self.default, "GetAWSDefaultServiceQuota", **params)


class S3Between:
    """moto's S3 with a hook run before each PutObject (another writer getting in first) and, with
    ``no_list_bucket``, GetObject of a missing key answered as S3 does without s3:ListBucket: 403 AccessDenied.
    ``atomic`` makes each PutObject and GetObject one step: S3 checks If-Match and writes atomically, and a GET
    returns the whole old or the whole new object; moto does not lock (a PUT closes the replaced object's buffer,
    so a GET reading it at that moment fails with "I/O operation on closed file")."""

    def __init__(self, s3: Any, before_put: Any = None, no_list_bucket: bool = False, atomic: bool = False) -> None:
        self.s3, self.before_put, self.no_list_bucket = s3, before_put, no_list_bucket
        self.lock = threading.Lock() if atomic else None
        self.puts: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def get_object(self, **params: Any) -> Any:
        try:
            if self.lock is None:
                return self.s3.get_object(**params)
            with self.lock:  # moto reads the whole body into its answer within the call
                return self.s3.get_object(**params)
        except ClientError as error:
            if self.no_list_bucket and error.response["Error"]["Code"] == "NoSuchKey":
                raise client_error("AccessDenied", "GetObject", 403) from None
            raise

    def put_object(self, **params: Any) -> Any:
        if self.before_put:
            self.before_put(params)
        self.puts.append({k: v for k, v in params.items() if k != "Body"})
        if self.lock is None:
            return self.s3.put_object(**params)
        with self.lock:
            return self.s3.put_object(**params)


def use_clients(world: World, s3: Any, sfn: StepFunctions, quotas: ServiceQuotas) -> None:
    clients = {"s3": s3, "bedrock": world.bedrock, "stepfunctions": sfn, "service-quotas": quotas}
    aws.use_factory(clients.__getitem__)


def configure(monkeypatch: pytest.MonkeyPatch, world: World, **changes: Any) -> None:
    settings = msgspec.structs.replace(world.settings, **changes)
    monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
    load_settings.cache_clear()
    world.settings = settings


def new_run(world: World, name: str) -> dict[str, Any]:
    event = {"input": {"dataset": "incoming/t.jsonl"}, "execution": {"arn": MACHINE + name, "name": name}}
    return dict(check_run_settings.handler(event, world.context)["run"])


def read_ledger(world: World) -> job_slots.Ledger:
    return job_slots.decode(world.s3.get_object(Bucket=BUCKET, Key=LEDGER)["Body"].read())


def take(world: World, run: dict[str, Any], token: str) -> dict[str, Any]:
    return take_job_slot.handler({"run": run, "token": token}, world.context)


def in_line(world: World, monkeypatch: pytest.MonkeyPatch, count: int = 3) -> tuple[dict[str, Any], ...]:
    """One slot (maxConcurrentJobs 1) and ``count`` runs that took in order: run-0 holds it with tok-0, run-n
    waits with tok-n."""
    configure(monkeypatch, world, max_concurrent_jobs=1)
    runs = tuple(new_run(world, f"run-{n}") for n in range(count))
    for n, run in enumerate(runs):
        take(world, run, f"tok-{n}")
    return runs
