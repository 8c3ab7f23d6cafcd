"""Keeping the evaluation prompts out of training while the dataset streams to S3."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from distill.evaluation.holdout import HoldoutPolicy, choose
from distill.holdout_sink import HoldoutSink
from tests.support.memory_io import MemorySink


def _line(text: str) -> str:
    return json.dumps({"schemaVersion": "bedrock-conversation-2024", "system": [{"text": ""}],
                       "messages": [{"role": "user", "content": [{"text": text}]},
                                    {"role": "assistant", "content": [{"text": "ok"}]}]})  # fmt: skip


def _split(lines: list[str], cuts: list[int]) -> tuple[MemorySink, MemorySink]:
    training, holdout = MemorySink(), MemorySink()
    sink = HoldoutSink(training, holdout, HoldoutPolicy())
    data = "".join(line + "\n" for line in lines).encode()
    start = 0
    for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        sink.write(data[start:cut])
        start = cut
    sink.commit()
    return training, holdout


PROMPTS = [f"Ticket {n}: where is order #{1000 + n}?" for n in range(150)] + ["Ticket 3: where is order #1003?"]


def test_given_150_records_when_written_then_20_prompts_are_held_out_and_every_record_is_kept_once() -> None:
    lines = [_line(p) for p in PROMPTS]

    training, holdout = _split(lines, [])

    assert training.state == holdout.state == "committed"
    assert sorted(training.lines() + holdout.lines()) == sorted(lines)  # nothing lost, nothing changed
    held_prompts = {json.loads(line)["messages"][0]["content"][0]["text"] for line in holdout.lines()}
    assert len(held_prompts) == 20 and len(training.lines()) >= 100
    # The same choice as the in-memory selection; a duplicate prompt is always on the side of its twin.
    expected = {PROMPTS[i] for i in choose(PROMPTS)}
    assert held_prompts == expected
    assert not held_prompts & {json.loads(line)["messages"][0]["content"][0]["text"] for line in training.lines()}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40_000), max_size=12))
def test_given_any_chunking_when_written_then_the_split_is_the_same(cuts: list[int]) -> None:
    lines = [_line(p) for p in PROMPTS]
    reference = _split(lines, [])
    training, holdout = _split(lines, cuts)
    assert (training.lines(), holdout.lines()) == (reference[0].lines(), reference[1].lines())


def test_given_too_few_records_to_hold_out_when_written_then_all_train_and_the_holdout_is_not_kept() -> None:
    lines = [_line(p) for p in PROMPTS[:110]]

    training, holdout = _split(lines, [])

    assert len(training.lines()) == 110 and holdout.state == "aborted"
