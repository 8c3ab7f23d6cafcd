"""The profile: exact counts on the shipped sample, the 100 / 15,000 limits, a verdict that helps fix the filter,
bounded memory and a bounded JSON size whatever the input."""

from __future__ import annotations

import json
import random

import msgspec
import pytest

from distill.invocation_logs import ProfileOptions, local_log_files, profile
from distill.invocation_logs.counting import MetadataStats, TopValues
from tests.support.memory_io import MemorySource
from tests.unit.invocation_logs.logs_helpers import (
    SAMPLE,
    SUPPORT,
    TEACHER,
    converse,
    ndjson,
    options,
    tagged,
)


def sample(selection: dict | None = None, use_prompt_response: bool = False):
    return profile(local_log_files(SAMPLE), options(selection, TEACHER, use_prompt_response))


def counts(found) -> dict:  # type: ignore[no-untyped-def]
    return {
        "selected": found.selected,
        "usable": found.selected_usable,
        "answered": found.with_response,
        "teacher": found.teacher_pairs,
        "distinct": found.distinct_prompts,
        "mismatches": found.mismatches,
        "ok": found.ok,
    }


# --- the shipped sample (samples/invocation-logs, made by bench/logsgen.py) ------------------------------------
def test_given_the_sample_without_a_filter_when_profiled_then_every_total_is_exact() -> None:
    found = sample()
    assert (found.files, found.scanned, found.usable, found.invalid.total) == (16, 301, 287, 0)
    assert found.operations.counts == {"Converse": 254, "InvokeModel": 45, "ConverseStream": 2}
    assert found.not_usable.counts == {
        "embeddings": 8, "image-generation": 2, "unsupported-body": 2, "body-in-s3": 1, "non-text-content": 1,
    }  # fmt: skip
    assert found.models.counts == {
        TEACHER: 283, "amazon.titan-embed-text-v2:0": 8, "amazon.nova-lite-v1:0": 6,
        "meta.llama3-1-405b-instruct-v1:0": 2, "amazon.nova-canvas-v1:0": 2,
    }  # fmt: skip
    assert found.answered.counts == {TEACHER: 280, "amazon.nova-lite-v1:0": 6}
    assert found.responses.counts == {"ok": 286, "error": 1}
    assert (found.input_tokens, found.output_tokens) == (12899, 16479)
    assert (found.first_timestamp, found.last_timestamp) == ("2026-11-24T09:00:00Z", "2026-11-25T12:36:06Z")
    assert found.metadata.without == 72
    assert found.metadata.keys.counts == {"use-case": 229, "team": 227, "priority": 219}
    assert found.metadata.values["use-case"].counts == {
        "support": 169, "billing": 38, "returns": 12, "search": 8, "marketing": 2,
    }  # fmt: skip
    assert found.metadata.values["priority"].counts == {"normal": 85, "high": 75, "low": 59}


@pytest.mark.parametrize(
    ("selection", "use_prompt_response", "expected"),
    [
        (SUPPORT, False, {"selected": 169, "usable": 167, "answered": 166, "teacher": 160, "distinct": 156,
                          "mismatches": 0, "ok": True}),
        (SUPPORT, True, {"selected": 169, "usable": 167, "answered": 166, "teacher": 160, "distinct": 150,
                         "mismatches": 7, "ok": True}),
        ({"equals": {"use-case": "returns"}}, False, {"selected": 12, "usable": 12, "answered": 12, "teacher": 12,
                                                      "distinct": 12, "mismatches": 0, "ok": False}),
        ({"andAll": [SUPPORT, {"equals": {"priority": "high"}}]}, True,
         {"selected": 56, "usable": 55, "answered": 55, "teacher": 55, "distinct": 53, "mismatches": 0, "ok": False}),
        ({"orAll": [SUPPORT, {"equals": {"use-case": "billing"}}]}, True,
         {"selected": 207, "usable": 205, "answered": 204, "teacher": 198, "distinct": 188, "mismatches": 7,
          "ok": True}),
        ({"notEquals": {"use-case": "billing"}}, True,  # the 72 untagged records count as "not billing"
         {"selected": 263, "usable": 249, "answered": 248, "teacher": 242, "distinct": 232, "mismatches": 7,
          "ok": True}),
    ],
)  # fmt: skip
def test_given_the_documented_filters_when_the_sample_is_profiled_then_the_documented_numbers(
    selection: dict, use_prompt_response: bool, expected: dict
) -> None:
    assert counts(sample(selection, use_prompt_response)) == expected


def test_given_use_prompt_response_when_profiled_then_records_not_answered_by_the_teacher_are_shown() -> None:
    found = sample(SUPPORT, True)
    whys = sorted(example["why"] for example in found.examples)
    assert whys == ["answered by amazon.nova-lite-v1:0"] * 4 + ["no response (error)"]
    assert all(
        example["where"].startswith(str(SAMPLE)) and ".json.gz:" in example["where"] for example in found.examples
    )
    assert "7 more selected records have no response from the teacher" in found.verdict()


def test_given_a_filter_that_selects_too_few_when_profiled_then_the_verdict_names_existing_keys_and_values() -> None:
    verdict = sample({"equals": {"use-case": "returns"}}, True).verdict()
    assert verdict.startswith("REJECTED: the filter selects 12 usable records with a response from amazon.nova-pro")
    assert "needs at least 100" in verdict
    assert "'use-case' in 229 ('support' 169, 'billing' 38, 'returns' 12, 'search' 8)" in verdict
    assert "'priority' in 219 ('normal' 85, 'high' 75, 'low' 59)" in verdict
    assert "72 records have none" in verdict


def test_given_a_misspelt_key_when_profiled_then_the_verdict_says_no_record_has_it() -> None:
    verdict = sample({"equals": {"usecase": "support"}}).verdict()
    assert "selects 0 usable records" in verdict and "The filter's key 'usecase' occurs in no record." in verdict


# --- the limits ------------------------------------------------------------------------------------------------------
def run(records: list, **option_values) -> object:  # type: ignore[no-untyped-def]
    return profile([MemorySource("logs.json", ndjson(records))], options(**option_values))


@pytest.mark.parametrize(("count", "ok"), [(99, False), (100, True)])
def test_given_exactly_99_or_100_selected_pairs_when_profiled_then_rejected_or_accepted(count: int, ok: bool) -> None:
    noise = [*tagged(40, "billing", start=500), converse(request_id="untagged")]
    found = run([*tagged(count), *noise], selection=SUPPORT)
    assert (found.pairs, found.ok) == (count, ok)  # type: ignore[attr-defined]


def test_given_100_selected_but_one_answered_by_another_model_when_use_prompt_response_then_rejected() -> None:
    records = [*tagged(99), *tagged(1, start=99, model="amazon.nova-lite-v1:0")]
    assert run(records, selection=SUPPORT).ok  # type: ignore[attr-defined]
    strict = run(records, selection=SUPPORT, use_prompt_response=True)
    assert (strict.pairs, strict.mismatches, strict.ok) == (99, 1, False)  # type: ignore[attr-defined]


def test_given_100_selected_prompts_without_responses_when_profiled_then_rejected_as_the_user_guide_asks() -> None:
    found = run(tagged(100, answer=False), selection=SUPPORT)
    assert (found.selected_usable, found.with_response, found.ok) == (100, 0, False)  # type: ignore[attr-defined]


def test_given_the_defaults_when_read_then_the_limit_is_bedrocks_15000_records() -> None:
    # Bedrock's limit for a distillation dataset; the boundary itself is tested at a small limit below.
    from distill.dataset.rules import DatasetRules

    assert ProfileOptions().max_records == DatasetRules().max_records == 15_000


@pytest.mark.parametrize(("count", "ok"), [(150, True), (151, False)])
def test_given_the_limit_or_one_more_selected_when_profiled_then_accepted_or_rejected(count: int, ok: bool) -> None:
    found = run(tagged(count), selection=SUPPORT, use_prompt_response=True, max_records=150)
    assert (found.taken, found.ok) == (count, ok)  # type: ignore[attr-defined]
    assert found.distinct_prompts == min(count, 151)  # type: ignore[attr-defined]
    if not ok:
        assert "Bedrock takes at most 150" in found.verdict()  # type: ignore[attr-defined]


def test_given_invalid_lines_when_profiled_then_fail_rejects_and_drop_counts_them() -> None:
    data = ndjson(tagged(120)) + b"garbage\n"
    failed = profile([MemorySource("x.json", data)], options(SUPPORT), on_invalid="fail")
    assert not failed.ok and failed.verdict().startswith("REJECTED: 1 invalid log lines (on_invalid=fail)")
    assert "x.json line 121: not valid JSON" in failed.verdict()
    dropped = profile([MemorySource("x.json", data)], options(SUPPORT), on_invalid="drop")
    assert dropped.ok and dropped.invalid.total == 1


def test_given_use_prompt_response_without_a_teacher_when_configured_then_refused() -> None:
    with pytest.raises(ValueError, match="needs the teacher"):
        ProfileOptions(None, None, True)


# --- bounded memory and size ------------------------------------------------------------------------------------------
def hostile(count: int) -> list:
    """16 long keys shared by every record, each with a new 256-character value, and a new long model id."""
    rng = random.Random(1)

    def word() -> str:
        return "".join(rng.choices("abcdefghij", k=256))

    keys = [word() for _ in range(16)]
    return [converse(metadata={key: word() for key in keys}, model=f"m-{n}-" + "x" * 200) for n in range(count)]


def test_given_high_cardinality_metadata_when_profiled_then_counters_are_bounded_and_the_json_stays_small() -> None:
    found = run(hostile(600))
    assert len(found.metadata.keys.counts) <= 64  # type: ignore[attr-defined]
    assert all(len(s.counts) <= 64 for s in found.metadata.values.values())  # type: ignore[attr-defined]
    assert len(found.metadata.values) <= 65  # type: ignore[attr-defined]
    assert len(found.models.counts) <= 64  # type: ignore[attr-defined]
    assert found.metadata.keys.exact and not found.metadata.exact  # type: ignore[attr-defined]
    out = found.to_dict()  # type: ignore[attr-defined]
    assert len(msgspec.json.encode(out)) <= 16_384
    assert json.loads(json.dumps(out))["recordsScanned"] == 600 and out["metadata"]["exact"] is False


def test_given_the_sample_when_serialized_then_small_json_with_the_verdict() -> None:
    out = sample(SUPPORT, True).to_dict()
    encoded = msgspec.json.encode(out)
    assert len(encoded) < 8_192
    assert out["ok"] is True and out["filter"] == SUPPORT and out["pairs"] == 160
    assert out["selected"]["notUsable"] == {"body-in-s3": 1, "non-text-content": 1}
    assert out["metadata"]["keys"][0] == {
        "key": "use-case", "records": 229,
        "values": [["support", 169], ["billing", 38], ["returns", 12], ["search", 8], ["marketing", 2]],
    }  # fmt: skip


def test_given_more_values_than_counters_when_counted_then_the_heavy_hitters_survive_with_bounded_error() -> None:
    top = TopValues(capacity=8)
    rng = random.Random(3)
    stream = ["heavy"] * 500 + ["warm"] * 200 + [f"rare-{n}" for n in range(1000)]
    rng.shuffle(stream)
    for value in stream:
        top.add(value)
    assert len(top.counts) == 8 and top.total == 1700 and not top.exact
    (first, n1), (second, n2) = top.top(2)
    assert (first, second) == ("heavy", "warm")
    assert 500 <= n1 <= 500 + top.inherited.get("heavy", 0) and 200 <= n2 <= 200 + top.inherited.get("warm", 0)
    assert top.rows(2)[-1] == ("(other)", 1700 - n1 - n2)


def test_given_few_values_when_counted_then_exact() -> None:
    stats = MetadataStats()
    stats.add({"team": "a"}, 3)
    stats.add({"team": "b"})
    stats.add(None)
    assert stats.keys.exact and stats.values["team"].counts == {"a": 3, "b": 1} and stats.without == 1


def test_given_the_largest_filter_bedrock_accepts_and_hostile_logs_when_serialized_then_still_under_16_kib() -> None:
    largest = {"orAll": [{"equals": {f"{n:02d}" + "k" * 254: "v" * 256}} for n in range(16)]}
    found = run(hostile(300), selection=largest)
    assert len(msgspec.json.encode(found.to_dict())) <= 16_384  # type: ignore[attr-defined]
