"""Generated names must satisfy the Bedrock API's own patterns, for any execution name."""

from __future__ import annotations

import re

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distill import naming

MODEL = botocore.session.get_session().get_service_model("bedrock")


def _api_pattern(operation: str, member: str) -> re.Pattern[str]:
    shape = MODEL.operation_model(operation).input_shape.members[member]
    return re.compile(shape.metadata["pattern"])


JOB_NAME = _api_pattern("CreateModelCustomizationJob", "jobName")
MODEL_NAME = _api_pattern("CreateModelCustomizationJob", "customModelName")
PT_NAME = _api_pattern("CreateProvisionedModelThroughput", "provisionedModelName")
DEPLOYMENT_NAME = _api_pattern("CreateCustomModelDeployment", "modelDeploymentName")
DEPLOYMENT_TOKEN = _api_pattern("CreateCustomModelDeployment", "clientRequestToken")
TOKEN = _api_pattern("CreateModelCustomizationJob", "clientRequestToken")
ARN = "arn:aws:states:us-east-1:123456789012:execution:DistillPipeline:"

execution_names = st.text(min_size=1, max_size=80)


@given(execution_names)
def test_given_any_execution_name_when_names_are_derived_then_each_matches_the_api_pattern(name: str) -> None:
    run = naming.run_id(name, ARN + name)
    for value, pattern in (
        (naming.job_name(run), JOB_NAME),
        (naming.custom_model_name(run), MODEL_NAME),
        (naming.provisioned_model_name(run), PT_NAME),
        (naming.deployment_name(run), MODEL_NAME),
        (naming.deployment_name(run), DEPLOYMENT_NAME),
    ):
        assert 1 <= len(value) <= 63
        assert pattern.fullmatch(value), value


@given(execution_names)
def test_given_any_execution_when_token_is_derived_then_it_matches_the_api_pattern(name: str) -> None:
    token = naming.client_request_token(ARN + name, "customization-job")
    assert TOKEN.fullmatch(token)
    assert DEPLOYMENT_TOKEN.fullmatch(naming.client_request_token(ARN + name, "custom-model-deployment"))
    assert len(token) == 64


def test_given_the_same_execution_when_token_is_derived_twice_then_it_is_the_same() -> None:
    assert naming.client_request_token(ARN + "a", "job") == naming.client_request_token(ARN + "a", "job")
    assert naming.client_request_token(ARN + "a", "job") != naming.client_request_token(ARN + "b", "job")
    assert naming.client_request_token(ARN + "a", "job") != naming.client_request_token(ARN + "a", "pt")


def test_given_two_executions_with_similar_names_when_run_ids_are_derived_then_they_differ() -> None:
    assert naming.run_id("My Run!", ARN + "My Run!") != naming.run_id("my-run", ARN + "my-run")
    assert naming.run_id("My Run!", ARN + "My Run!").startswith("my-run-")


def test_given_a_long_execution_name_when_job_name_is_derived_then_it_is_cut_to_63_without_trailing_dash() -> None:
    run = naming.run_id("x" * 39 + "-" + "y" * 40, ARN + "long")
    name = naming.job_name(run)
    assert len(name) <= 63 and not name.endswith("-")


@pytest.mark.parametrize(
    ("key", "tag"),
    [("incoming/data.jsonl", '"abc"'), ("incoming/sub dir/Data Set.jsonl.gz", "3-v1")],
)
def test_given_an_object_when_execution_name_is_derived_then_it_is_stable_and_fits_80_chars(key: str, tag: str) -> None:
    first = naming.execution_name_for_object(key, tag)
    assert first == naming.execution_name_for_object(key, tag)
    assert first != naming.execution_name_for_object(key, tag + "x")
    assert len(first) <= 80 and re.fullmatch(r"[a-z0-9-]+", first)
