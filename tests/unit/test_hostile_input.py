"""Hostile input is contained: nothing a run's input or a dropped file says can reach outside the project,
and nothing large or deep is read whole into memory. (More cases: test_run_request.py, tests/unit/dataset.)"""

from __future__ import annotations

import io
from typing import Any

import pytest

from distill import drops, naming
from distill.dataset import ConvertOptions, DatasetRules, convert
from distill.errors import InvalidRunInput
from distill.run_request import parse_request, resolve
from distill.settings import PipelineSettings

SETTINGS = PipelineSettings(bucket_name="distill-data-bucket", bedrock_role_arn="arn:aws:iam::123456789012:role/R")
EXECUTION = ("x", "arn:aws:states:us-east-1:123456789012:execution:sm:x")


class EndlessSource:
    """A file that never ends: converting it must stop at the size limit, not read it all."""

    name = "s3://distill-data-bucket/incoming/endless.jsonl"

    def __init__(self) -> None:
        self.served = 0

    def open(self) -> io.RawIOBase:
        source = self
        line = b'{"prompt": "' + b"a" * 1000 + b'", "completion": "b"}\n'

        class Stream(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                chunk = (line * (len(buffer) // len(line) + 1))[: len(buffer)]
                buffer[: len(chunk)] = chunk
                source.served += len(chunk)
                return len(chunk)

        return io.BufferedReader(Stream())


def test_given_an_endless_file_when_converted_then_it_stops_at_the_size_limit() -> None:
    source = EndlessSource()
    report = convert([source], None, ConvertOptions(), DatasetRules(max_total_bytes=5_000_000))
    assert not report.ok and "too-large" in report.error_counts
    assert source.served < 5_000_000 + 4 * 1024 * 1024  # the limit plus a read-ahead, not the whole stream


def test_given_a_single_endless_line_when_converted_then_it_is_refused_without_buffering_it() -> None:
    class OneLine(EndlessSource):
        def open(self) -> io.RawIOBase:
            return io.BufferedReader(io.BytesIO(b'{"prompt": "' + b"x" * 3_000_000 + b'"}\n'))

    report = convert([OneLine()], None, ConvertOptions(), DatasetRules(max_line_bytes=1_048_576))
    assert report.error_counts.get("line-too-long") == 1
    assert report.errors[0].line == 1


@pytest.mark.parametrize(
    "dataset",
    [
        "s3://attacker-bucket/incoming/x.jsonl",
        "s3://distill-data-bucket/reports/other-run/summary.json",
        "s3://distill-data-bucket/incoming/../jobs/secret",
        "../../etc/passwd",
        "incoming/../datasets/x.jsonl",
    ],
)
def test_given_input_pointing_outside_the_drop_zone_when_resolved_then_it_is_refused(dataset: str) -> None:
    with pytest.raises(InvalidRunInput, match=r"\$\.dataset"):
        resolve(parse_request({"dataset": dataset}), SETTINGS, *EXECUTION)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jobName", "x\nset -e; curl evil"),
        ("jobName", "a" * 64),
        ("customModelName", "model/../../other"),
        ("customModelName", "name with spaces"),
    ],
)
def test_given_a_name_with_injected_characters_when_resolved_then_it_is_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidRunInput, match=rf"\$\.{field}"):
        resolve(parse_request({"dataset": "incoming/x.jsonl", field: value}), SETTINGS, *EXECUTION)


def test_given_a_hostile_execution_name_when_names_are_derived_then_only_safe_characters_remain() -> None:
    run = naming.run_id("x'; DROP TABLE jobs; --\n../..", EXECUTION[1])
    assert naming.is_valid_job_name(naming.job_name(run)) and naming.is_valid_model_name(naming.custom_model_name(run))
    assert set(run) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


@pytest.mark.parametrize(
    "sidecar",
    [
        {"dataset": "s3://attacker-bucket/x.jsonl"},
        ["not", "an", "object"],
    ],
)
def test_given_a_sidecar_that_tries_to_redirect_the_run_when_read_then_it_is_refused(sidecar: Any) -> None:
    obj = drops.DroppedObject("distill-data-bucket", "incoming/x.jsonl", "v1")
    with pytest.raises(InvalidRunInput, match=r"settings\.json"):
        drops.execution_input(obj, sidecar)


def test_given_a_sidecar_naming_a_model_outside_the_allow_list_when_the_run_starts_then_it_fails_first() -> None:
    obj = drops.DroppedObject("distill-data-bucket", "incoming/x.jsonl", "v1")
    run_input = drops.execution_input(obj, {"teacherModelId": "anthropic.claude-opus-4"})
    with pytest.raises(InvalidRunInput, match=r"\$\.teacherModelId"):
        resolve(parse_request(run_input), SETTINGS, *EXECUTION)
