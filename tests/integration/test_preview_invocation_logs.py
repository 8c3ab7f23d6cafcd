"""The state "Preview the invocation logs" against moto S3: what it reads, writes and decides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from distill.errors import DatasetInvalid
from handlers import check_run_settings, preview_invocation_logs, try_model
from tests.support.aws_world import BUCKET, EXECUTION_ARN, World
from tests.unit.invocation_logs.logs_helpers import gz, ndjson, tagged

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "invocation-logs"
LOGS = f"s3://{BUCKET}/invocation-logs/"
HOUR = "invocation-logs/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2026/11/25/09/"


def _run(world: World, logs: dict[str, Any]) -> dict[str, Any]:
    event = {"input": {"invocationLogs": {"s3Uri": LOGS, **logs}}, "execution": {"arn": EXECUTION_ARN, "name": "r"}}
    return check_run_settings.handler(event, world.context)["run"]


def _upload_sample(world: World) -> None:
    for path in sorted(p for p in SAMPLE.rglob("*.json.gz")):
        world.s3.put_object(Bucket=BUCKET, Key=f"invocation-logs/{path.relative_to(SAMPLE).as_posix()}",
                            Body=path.read_bytes())  # fmt: skip


def test_given_the_sample_and_a_support_filter_when_previewed_then_it_counts_and_keeps_a_copy(world: World) -> None:
    _upload_sample(world)
    run = _run(world, {"requestMetadataFilters": {"equals": {"use-case": "support"}}, "usePromptResponse": True})

    out = preview_invocation_logs.handler({"run": run}, world.context)

    assert (out["recordsRead"], out["recordsSelected"], out["teacherPairs"]) == (301, 169, 160)
    assert out["copyWritten"] and out["datasetUri"] == run["datasetUri"]
    assert out["recordsWritten"] + out["recordsHeldOut"] + out["duplicates"] <= 160
    keys = world.keys("datasets/")
    assert any(k.endswith("train.jsonl") for k in keys) and any(k.endswith("train.holdout.jsonl") for k in keys)
    preview = json.loads(world.s3.get_object(Bucket=BUCKET, Key=out["previewUri"].split(f"{BUCKET}/", 1)[1])["Body"].read())
    assert preview["profile"]["selected"]["records"] == 169
    assert out["verdict"].startswith("ACCEPTED")


def test_given_a_filter_on_a_key_no_record_has_when_previewed_then_the_error_names_the_keys_that_exist(world: World) -> None:
    _upload_sample(world)
    run = _run(world, {"requestMetadataFilters": {"equals": {"usecase": "support"}}})

    with pytest.raises(DatasetInvalid) as caught:
        preview_invocation_logs.handler({"run": run}, world.context)

    message = str(caught.value)
    assert message.startswith("REJECTED: the filter selects 0 usable records")
    assert "'use-case' in 229" in message and "The filter's key 'usecase' occurs in no record" in message
    assert world.keys("datasets/") == [], "nothing is kept for a rejected selection"
    assert any(k.endswith("invocation-logs-preview.json") for k in world.keys("reports/"))


def test_given_no_logs_under_the_prefix_when_previewed_then_it_says_where_it_looked(world: World) -> None:
    run = _run(world, {})
    with pytest.raises(DatasetInvalid, match="invocation-logs/"):
        preview_invocation_logs.handler({"run": run}, world.context)


def test_given_enough_pairs_but_duplicates_when_previewed_then_the_run_goes_on_without_a_copy(world: World) -> None:
    # Bedrock counts 105 pairs (it takes duplicates): accepted. Our copy drops 5 repeats and holds some out:
    # under 100, so it is not kept -- and the smoke test says it has no prompt rather than failing.
    world.s3.put_object(Bucket=BUCKET, Key=f"{HOUR}a.json.gz", Body=gz(ndjson([*tagged(100), *tagged(5)])))
    run = _run(world, {})

    out = preview_invocation_logs.handler({"run": run}, world.context)

    assert out["teacherPairs"] == 105 and out["verdict"].startswith("ACCEPTED")
    assert not out["copyWritten"] and out["datasetUri"] is None and out["duplicates"] == 5
    assert world.keys("datasets/") == []
    tried = try_model.handler({"run": run, "serving": {"modelId": "arn:aws:bedrock:x"}, "dataset": out},
                              world.context)  # fmt: skip
    assert tried["answer"] is None and tried["error"].startswith("no prompt to try: only")
