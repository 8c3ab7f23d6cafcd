"""The shipped sample is exactly what its generator writes, in Bedrock's S3 layout."""

from __future__ import annotations

from pathlib import Path

from bench.logsgen import PREFIX, write_sample
from tests.unit.invocation_logs.logs_helpers import SAMPLE


def test_given_the_generator_when_run_again_then_the_committed_sample_is_reproduced_byte_for_byte(
    tmp_path: Path,
) -> None:
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in write_sample(tmp_path)}
    committed = {p.relative_to(SAMPLE).as_posix(): p.read_bytes() for p in SAMPLE.rglob("*.json.gz")}
    assert fresh == committed


def test_given_the_sample_when_listed_then_hourly_folders_over_two_days_in_the_s3_layout() -> None:
    keys = sorted(p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*.json.gz"))
    assert len(keys) == 16 and all(key.startswith(PREFIX + "/2026/11/2") for key in keys)
    hours = {key.split("/")[-3] + "/" + key.split("/")[-2] for key in keys}  # day/hour
    assert {hour.split("/")[0] for hour in hours} == {"24", "25"} and len(hours) == 13
