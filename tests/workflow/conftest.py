"""The offline world, synthesized once per worker: the deployable state machine on a virtual clock, real
handlers under their own roles, simulated Bedrock. Every test gets a fresh simulated account."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from distill_cli.offline.synthesis import SynthesizedApp
from distill_cli.offline.world import OfflinePipeline

RECORDS = 120
BAD_LINE = 7


def write_dataset(path: Path, records: int = RECORDS, broken_line: int | None = None) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for n in range(1, records + 1):
            if n == broken_line:
                out.write('{"prompt": "my parcel is late", "completion": \n')
                continue
            record = {
                "prompt": f"Ticket {n}: my order #{1000 + n} has not arrived. What can I do?",
                "completion": f"Sorry about order #{1000 + n}. Track it under Orders; if it is over 5 days late we refund it.",
            }
            out.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="session")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "support-tickets.jsonl")


@pytest.fixture(scope="session")
def invalid_dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("bad") / "broken-tickets.jsonl", broken_line=BAD_LINE)


@pytest.fixture
def offline(synthesized: SynthesizedApp) -> Iterator[Callable[..., OfflinePipeline]]:
    """offline(**bedrock_options) -> an entered OfflinePipeline (closed after the test)."""
    opened: list[OfflinePipeline] = []

    def open_pipeline(**options: Any) -> OfflinePipeline:
        options.setdefault("job_checks", 1)
        options.setdefault("throughput_checks", 1)
        options.setdefault("deployment_checks", 1)
        pipeline = OfflinePipeline(synthesized=synthesized, **options).__enter__()
        opened.append(pipeline)
        return pipeline

    yield open_pipeline
    for pipeline in reversed(opened):
        pipeline.__exit__(None, None, None)
