"""distill start: the options become the execution input the run's first state validates."""

from __future__ import annotations

import argparse

import pytest

from distill_cli.commands import start


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    start.add_arguments(parser)
    return parser.parse_args(["data.jsonl", *argv])


def test_given_no_options_when_the_input_is_built_then_only_the_dataset_is_sent() -> None:
    assert start.run_input(_args(), "s3://b/incoming/data.jsonl") == {"dataset": "s3://b/incoming/data.jsonl"}


def test_given_provision_when_the_input_is_built_then_one_unit_without_commitment_is_asked() -> None:
    assert start.run_input(_args("--provision"), "u")["provisionedThroughput"] == {"modelUnits": 1}


def test_given_on_demand_when_the_input_is_built_then_an_on_demand_deployment_is_asked() -> None:
    built = start.run_input(_args("--on-demand", "--teacher", "amazon.nova-premier-v1:0"), "u")
    assert built == {"dataset": "u", "onDemandDeployment": {}, "teacherModelId": "amazon.nova-premier-v1:0"}


def test_given_on_demand_and_provision_when_the_input_is_built_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        start.run_input(_args("--on-demand", "--model-units", "2"), "u")


def test_given_extra_input_when_the_input_is_built_then_it_is_merged_last() -> None:
    built = start.run_input(_args("--max-response-length", "500", "--input", '{"maxResponseLength": 800}'), "u")
    assert built["maxResponseLength"] == 800
