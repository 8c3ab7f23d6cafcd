"""The run's ``evaluation`` setting: off with false, defaults otherwise, wrong values named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from distill.evaluation.config import EvaluationRequest, ModelPrice, parse_evaluation
from distill.evaluation.holdout import prompt_key
from distill.evaluation.prompts import decode, encode, from_line, ordered


def test_given_the_package_when_imported_then_no_aws_sdk_and_no_dataset_engine_is_loaded() -> None:
    probe = (
        "import sys, distill.evaluation, distill.evaluation.report, distill.evaluation.batching\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'distill.dataset.engine') if m in sys.modules))"
    )
    lambdas = Path(__file__).resolve().parents[3] / "lambdas"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(lambdas)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_given_false_when_parsed_then_evaluation_is_off() -> None:
    assert parse_evaluation(False) is None


@pytest.mark.parametrize("raw", [None, True, {}])
def test_given_nothing_or_true_when_parsed_then_the_defaults_apply(raw) -> None:
    request = parse_evaluation(raw)
    assert request == EvaluationRequest()
    assert request is not None and request.min_quality_ratio == 0.9 and request.gate_on == "estimate"
    assert [m.name for m in request.scored_metrics] == ["correctness", "completeness", "following_instructions"]
    assert request.holdout.fraction == 0.05 and (request.holdout.minimum, request.holdout.maximum) == (20, 500)


def test_given_custom_metrics_and_prices_when_parsed_then_they_are_scored_gated_and_priced() -> None:
    request = parse_evaluation(
        {
            "metrics": ["correctness"],
            "customMetrics": {"tone": "Polite and calm.", "brevity": "No padding."},
            "gateMetrics": ["correctness", "tone"],
            "minQualityRatio": 0.85,
            "gateOn": "ciLower",
            "prices": {"amazon.nova-pro-v1:0": {"inputPer1kTokens": 0.0008, "outputPer1kTokens": 0.0032}},
        }
    )
    assert request is not None
    assert [m.name for m in request.scored_metrics] == ["correctness", "brevity", "tone"]
    assert request.gated_metrics == ("correctness", "tone")
    assert request.prices["amazon.nova-pro-v1:0"] == ModelPrice(input_per_1k_tokens=0.0008, output_per_1k_tokens=0.0032)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("yes", "must be true, false or an object"),
        ({"minQualityRatio": 0}, "minQualityRatio"),
        ({"customMetrics": {"Bad Name": "x"}}, "customMetrics"),
        ({"customMetrics": {"correctness": "mine"}}, "is a built-in metric"),
        ({"customMetrics": {f"m{i}": "x" for i in range(9)}}, "at most 8"),
        ({"gateMetrics": ["tone"]}, "'tone' is not a scored metric"),
        ({"metrics": []}, "at least one metric"),
        ({"holdout": {"minimum": 30, "maximum": 10}}, "minimum must not be larger"),
        ({"prices": {"m": {"inputPer1kTokens": 1}}}, "outputPer1kTokens"),
        ({"judgeAttempts": 9}, "judgeAttempts"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_given_a_wrong_setting_when_parsed_then_the_message_names_it(raw, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_evaluation(raw)


def test_given_converted_records_when_read_as_prompts_then_prompt_system_and_reference_are_kept() -> None:
    line = (
        b'{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"Be brief."}],"messages":['
        b'{"role":"user","content":[{"text":"Where is my parcel?"}]},'
        b'{"role":"assistant","content":[{"text":"On its way."}]}]}'
    )
    prompt = from_line(line, 3)
    assert (prompt.index, prompt.prompt, prompt.system, prompt.reference) == (
        3,
        "Where is my parcel?",
        "Be brief.",
        "On its way.",
    )
    assert prompt.key == prompt_key("Where is my parcel?")


def test_given_prompts_when_ordered_and_stored_then_every_batch_reads_back_its_slice() -> None:
    line = b'{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","content":[{"text":"q%d"}]}]}'
    items = ordered(from_line(line % i) for i in range(25))
    assert [p.index for p in items] == list(range(25))
    assert items == ordered(reversed(items))
    data = encode(items)
    assert decode(data) == items and decode(data, 10, 5) == items[10:15]
