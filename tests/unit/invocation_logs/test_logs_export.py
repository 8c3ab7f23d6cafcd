"""Export: the selection as bedrock-conversation-2024 JSONL that passes the project's own validator, one record
per prompt, a hold-out split that depends only on the prompt, and nothing written unless the whole run is good."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.dataset import AtomicFileSink, ConvertOptions, convert
from distill.invocation_logs import export, holdout_path, local_log_files
from distill.invocation_logs.exporter import in_holdout
from distill.invocation_logs.records import prompt_key
from tests.support.memory_io import MemorySink, MemorySource
from tests.unit.invocation_logs.logs_helpers import (
    SAMPLE,
    SUPPORT,
    converse,
    message,
    ndjson,
    options,
    tagged,
)


def run(records: list, holdout: float = 0.0, **option_values):  # type: ignore[no-untyped-def]
    sink, held = MemorySink(), MemorySink()
    report = export([MemorySource("logs.json", ndjson(records))], sink, held, options(**option_values), holdout)
    return report, sink, held


def texts(sink: MemorySink) -> list[str]:
    return [record["messages"][0]["content"][0]["text"] for record in sink.records()]


def test_given_the_sample_when_exported_then_the_files_pass_the_dataset_validator(tmp_path: Path) -> None:
    out = tmp_path / "support.jsonl"
    report = export(local_log_files(SAMPLE), AtomicFileSink(out), AtomicFileSink(holdout_path(str(out))),
                    options(SUPPORT), holdout=0.05)  # fmt: skip
    assert report.ok, report.message
    assert (report.eligible, report.duplicates, report.training, report.held_out) == (167, 10, 152, 5)
    assert (report.with_response, report.responses_left_out) == (145, 6)
    validated = convert([MemorySource(str(out), out.read_bytes())], None, ConvertOptions(input_format="conversation"))
    assert validated.ok and validated.records_valid == 152, validated.first_error
    assert Path(holdout_path(str(out))).read_bytes().count(b"\n") == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["support.holdout.jsonl", "support.jsonl"]


def test_given_a_record_when_exported_then_system_turns_and_the_teachers_answer_in_bedrock_shape() -> None:
    turns = [message("user", "My grinder is loud."), message("assistant", "Anything stuck?"), message("user", "No.")]
    records = [converse(messages=turns, answer="Then we replace it.", system="Be kind.", metadata=SUPPORT["equals"]),
               *tagged(100, start=1)]  # fmt: skip
    report, sink, _ = run(records, selection=SUPPORT)
    assert report.ok
    assert sink.records()[0] == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Be kind."}],
        "messages": [*turns, message("assistant", "Then we replace it.")],
    }


def test_given_answers_from_another_model_when_exported_then_the_prompt_is_kept_without_the_answer() -> None:
    lite = tagged(1, start=500, model="amazon.nova-lite-v1:0")
    report, sink, _ = run([*lite, *tagged(100)], selection=SUPPORT)
    assert report.ok and report.responses_left_out == 1
    first = sink.records()[0]
    assert [m["role"] for m in first["messages"]] == ["user"]
    strict, strict_sink, _ = run([*lite, *tagged(100)], selection=SUPPORT, use_prompt_response=True)
    assert strict.eligible == 100 and "Question 500" not in " ".join(texts(strict_sink))
    _, any_sink, _ = run([*lite, *tagged(100)], selection=SUPPORT, teacher=None)
    assert [m["role"] for m in any_sink.records()[0]["messages"]] == ["user", "assistant"]


def test_given_duplicates_by_case_and_spacing_when_exported_then_the_first_one_is_kept() -> None:
    records = tagged(100)
    again = converse("  QUESTION 3 ABOUT   ORDER #1003 ", "Other answer.", metadata={"use-case": "support"})
    report, sink, _ = run([*records[:50], again, *records[50:], records[3]], selection=SUPPORT)
    assert report.ok and report.duplicates == 2 and report.training == 100
    assert texts(sink).count("Question 3 about order #1003") == 1
    assert all(r["messages"][-1]["content"][0]["text"] != "Other answer." for r in sink.records())


def test_given_the_same_input_twice_when_exported_then_byte_identical_files() -> None:
    records = tagged(300)
    first = run(records, holdout=0.1, selection=SUPPORT)
    second = run(records, holdout=0.1, selection=SUPPORT)
    assert first[1].data == second[1].data and first[2].data == second[2].data
    assert first[0].held_out == len(first[2].records()) and 10 <= first[0].held_out <= 55


PROMPTS = st.lists(st.text(alphabet="abcdefgh ?", min_size=3, max_size=12), min_size=1, max_size=60, unique=True)


@settings(max_examples=60, deadline=None)
@given(prompts=PROMPTS, others=PROMPTS, fraction=st.sampled_from([0.05, 0.2, 0.5]))
def test_given_any_prompts_when_other_records_come_or_go_then_each_prompt_keeps_its_side(
    prompts: list[str], others: list[str], fraction: float
) -> None:
    def sides(texts_in: list[str]) -> dict[str, bool]:
        records = [converse(text, "ok", metadata={"use-case": "support"}) for text in texts_in]
        sink, held = MemorySink(), MemorySink()
        export([MemorySource("l.json", ndjson(records))], sink, held, options(SUPPORT, min_records=0), fraction)
        return {**dict.fromkeys(texts(sink), False), **dict.fromkeys(texts(held), True)}

    alone = sides(prompts)
    mixed = sides([*others, *prompts])

    def norm(text: str) -> str:
        return " ".join(text.split()).casefold()

    taken = {norm(other) for other in others}
    for text in prompts:
        if not text.strip() or norm(text) in taken:
            continue  # blank (not usable) or a duplicate: written once, under the first text
        taken.add(norm(text))
        expected = in_holdout(prompt_key("You help Northwind's customers.", (("user", text),)), fraction)
        assert mixed[text] == alone[text] == expected


def test_given_fraction_bounds_when_split_then_zero_keeps_all_and_the_hash_decides() -> None:
    key = bytes(16)
    assert not in_holdout(key, 0.0) and in_holdout(key, 0.01)
    assert not in_holdout(b"\xff" * 16, 0.5)
    with pytest.raises(ValueError, match=r"between 0 and 0\.5"):
        export([], MemorySink(), MemorySink(), options(), holdout=0.6)


@pytest.mark.parametrize(
    ("records", "on_invalid", "words"),
    [
        (tagged(99), "fail", "only 99 training records"),
        (tagged(150, answer=False), "fail", None),  # prompts only are a valid dataset: the teacher answers
        ([*tagged(120)], "fail", None),
    ],
)
def test_given_too_few_or_enough_records_when_exported_then_written_only_when_enough(
    records: list, on_invalid: str, words: str | None
) -> None:
    report, sink, held = run(records, selection=SUPPORT)
    assert report.ok is (words is None)
    assert sink.state == ("committed" if words is None else "aborted")
    if words:
        assert words in report.message and held.state == "aborted"


def test_given_an_invalid_line_when_exporting_with_fail_then_nothing_is_committed_and_with_drop_it_is() -> None:
    data = ndjson(tagged(120)) + b"not json\n"
    sink, held = MemorySink(), MemorySink()
    report = export([MemorySource("x.json", data)], sink, held, options(SUPPORT), 0.05, on_invalid="fail")
    assert not report.ok and (sink.state, held.state) == ("aborted", "aborted")
    assert "x.json line 121" in report.message
    sink, held = MemorySink(), MemorySink()
    report = export([MemorySource("x.json", data)], sink, held, options(SUPPORT), 0.05, on_invalid="drop")
    assert report.ok and (sink.state, held.state) == ("committed", "committed")


def test_given_more_than_the_maximum_when_exporting_then_aborted() -> None:
    report, sink, _ = run(tagged(320), selection=SUPPORT, max_records=300, min_records=1)
    assert not report.ok and report.over_limit and sink.state == "aborted" and report.eligible == 320
    assert "more than 300 training records" in report.message


def test_given_a_failure_inside_the_pass_when_exporting_then_both_sinks_are_aborted() -> None:
    class Broken:
        name = "broken.json"

        def open(self) -> io.BytesIO:
            raise OSError("disk gone")

    sink, held = MemorySink(), MemorySink()
    with pytest.raises(OSError, match="disk gone"):
        export([Broken()], sink, held, options(), 0.05)
    assert (sink.state, held.state) == ("aborted", "aborted")


def test_given_output_names_when_the_holdout_path_is_derived_then_beside_it() -> None:
    assert holdout_path("data/train.jsonl") == "data/train.holdout.jsonl"
    assert holdout_path("s3://b/k/train.jsonl") == "s3://b/k/train.holdout.jsonl"
    assert holdout_path("train.txt") == "train.txt.holdout.jsonl"
