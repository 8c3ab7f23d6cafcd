"""Dropping a file into the bucket starts exactly one run.

S3 sends "Object Created" to EventBridge, whose rule invokes the "start run for dropped file" function. The
execution is named after the object (key plus version id or ETag), so a repeated or duplicate event names
the same execution again and Step Functions refuses the second start (ExecutionAlreadyExists).

Optional per-drop settings live in a sidecar object next to the data: ``<key>.settings.json`` holds any
execution-input field except ``dataset`` (teacherModelId, provisionedThroughput, systemPrompt, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from distill import aws, naming, s3objects
from distill.errors import InvalidRunInput
from distill.settings import PipelineSettings

DATA_SUFFIXES = (".jsonl", ".jsonl.gz")
SIDECAR_SUFFIX = ".settings.json"
EVALUATION_FOLDER = "evaluation/"  # under the drop prefix: prompts for evaluation.dataset, never a run of their own
SIDECAR_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class DroppedObject:
    bucket: str
    key: str
    version: str  # version id, or the ETag when the bucket reports none
    etag: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def execution_name(self) -> str:
        return naming.execution_name_for_object(self.key, self.version)


def dropped_object(event: dict[str, Any]) -> DroppedObject:
    """Read the object out of an EventBridge "Object Created" event."""
    try:
        detail = event["detail"]
        obj = detail["object"]
        etag = str(obj.get("etag", ""))
        return DroppedObject(detail["bucket"]["name"], obj["key"], obj.get("version-id") or etag, etag)
    except (KeyError, TypeError) as missing:
        raise InvalidRunInput(f"not an S3 Object Created event: missing {missing}") from None


def is_dataset(obj: DroppedObject, settings: PipelineSettings) -> bool:
    """A file that starts a run: data under the drop prefix, but not a file of evaluation prompts (kept under
    ``<drop prefix>evaluation/`` for a run's ``evaluation.dataset``)."""
    return (
        obj.bucket == settings.bucket_name
        and obj.key.startswith(settings.layout.drop_prefix)
        and not obj.key.startswith(settings.layout.drop_prefix + EVALUATION_FOLDER)
        and obj.key.endswith(DATA_SUFFIXES)
    )


def execution_input(obj: DroppedObject, sidecar: dict[str, Any] | None) -> dict[str, Any]:
    """The execution input for a drop: the dataset plus whatever the sidecar sets."""
    if sidecar is None:
        return {"dataset": obj.uri}
    if not isinstance(sidecar, dict):
        raise InvalidRunInput(f"{obj.uri}{SIDECAR_SUFFIX}: must hold a JSON object")
    if "dataset" in sidecar:
        raise InvalidRunInput(
            f"{obj.uri}{SIDECAR_SUFFIX}: 'dataset' cannot be set in a sidecar (it is the dropped file)"
        )
    # Other fields are validated by the run's first state, which fails with a message naming them.
    return {"dataset": obj.uri, **sidecar}


def read_sidecar(obj: DroppedObject) -> dict[str, Any] | None:
    """The drop's ``<key>.settings.json``, or None. Looked for by listing: a GET of a missing key is a 403 for a
    function that may list only the drop zone (distill.s3objects)."""
    s3 = aws.client("s3")
    key = obj.key + SIDECAR_SUFFIX
    entry = s3objects.listed(s3, obj.bucket, key)
    if entry is None:
        return None
    if int(entry.get("Size", 0)) > SIDECAR_MAX_BYTES:
        raise InvalidRunInput(f"{obj.uri}{SIDECAR_SUFFIX}: larger than {SIDECAR_MAX_BYTES} bytes")
    body = s3.get_object(Bucket=obj.bucket, Key=key)["Body"].read(SIDECAR_MAX_BYTES + 1)
    if len(body) > SIDECAR_MAX_BYTES:
        raise InvalidRunInput(f"{obj.uri}{SIDECAR_SUFFIX}: larger than {SIDECAR_MAX_BYTES} bytes")
    try:
        return json.loads(body)  # type: ignore[no-any-return]
    except ValueError as error:
        raise InvalidRunInput(f"{obj.uri}{SIDECAR_SUFFIX}: not valid JSON ({error})") from None


def start_run(event: dict[str, Any], settings: PipelineSettings, state_machine_arn: str) -> dict[str, Any]:
    """Start one execution for the dropped object; a duplicate event is reported, not started again."""
    obj = dropped_object(event)
    if obj.bucket == settings.bucket_name:
        # The key as the event spells it may be URL-encoded: find the object it names.
        found = s3objects.delivered_key(aws.client("s3"), obj.bucket, obj.key, obj.etag)
        if found is None:
            return {"started": False, "reason": f"{obj.uri} no longer exists (deleted after the event was sent)"}
        obj = replace(obj, key=found[0])
    if not is_dataset(obj, settings):
        return {"started": False, "reason": f"{obj.uri} is not a .jsonl/.jsonl.gz file under the drop prefix (files "
                f"under {settings.layout.drop_prefix}{EVALUATION_FOLDER} are evaluation prompts, not runs)"}
    run_input = execution_input(obj, read_sidecar(obj))
    sfn = aws.client("stepfunctions")
    # StartExecution with the name and input of a *running* execution just returns it, so ask first: a
    # duplicate event must be reported as one, not as a start.
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + obj.execution_name
    try:
        existing = sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        existing = None
    if existing is not None:
        return {
            "started": False,
            "reason": f"duplicate event: this object already has a run ({existing['status']})",
            "name": obj.execution_name,
            "executionArn": execution_arn,
        }
    try:
        started = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=obj.execution_name, input=json.dumps(run_input)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return {
            "started": False,
            "reason": "duplicate event: this object already has a run",
            "name": obj.execution_name,
        }
    return {"started": True, "executionArn": started["executionArn"], "name": obj.execution_name}
