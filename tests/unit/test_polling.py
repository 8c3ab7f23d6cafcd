"""The serving loops' wait between checks grows to a cap; the status of each thing Bedrock makes has a phase.
(A job's history budget is measured from real executions: tests/workflow/test_workflow_polling.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distill import polling
from distill.settings import PollingPolicy

DEFAULT = PollingPolicy()


def test_given_default_policy_when_waits_are_listed_then_they_grow_from_a_minute_to_ten_minutes() -> None:
    waits = [polling.next_wait_seconds(n, DEFAULT) for n in range(10)]
    assert waits[0] == 60
    assert waits == sorted(waits)
    assert waits[-1] == 600
    assert max(waits) == 600


@given(st.integers(min_value=0, max_value=10_000))
def test_given_any_check_number_when_wait_is_computed_then_it_is_within_bounds(checks: int) -> None:
    wait = polling.next_wait_seconds(checks, DEFAULT)
    assert DEFAULT.first_wait_seconds <= wait <= DEFAULT.max_wait_seconds


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("InProgress", polling.Phase.RUNNING),
        ("Stopping", polling.Phase.RUNNING),
        ("Completed", polling.Phase.SUCCEEDED),
        ("Failed", polling.Phase.FAILED),
        ("Stopped", polling.Phase.FAILED),
        ("SomethingNew", polling.Phase.UNKNOWN),
    ],
)
def test_given_a_job_status_when_classified_then_the_phase_is_right(status: str, phase: polling.Phase) -> None:
    assert polling.job_phase(status) is phase


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("Creating", polling.Phase.RUNNING),
        ("Updating", polling.Phase.RUNNING),
        ("InService", polling.Phase.SUCCEEDED),
        ("Failed", polling.Phase.FAILED),
    ],
)
def test_given_a_throughput_status_when_classified_then_the_phase_is_right(status: str, phase: polling.Phase) -> None:
    assert polling.throughput_phase(status) is phase


def test_given_a_policy_whose_cap_is_below_its_start_when_created_then_it_is_refused() -> None:
    import msgspec

    with pytest.raises((ValueError, msgspec.ValidationError)):
        msgspec.convert({"firstWaitSeconds": 100, "maxWaitSeconds": 10}, PollingPolicy)


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("Creating", polling.Phase.RUNNING),
        ("Active", polling.Phase.SUCCEEDED),
        ("Failed", polling.Phase.FAILED),
        ("Updating", polling.Phase.UNKNOWN),
    ],
)
def test_given_a_deployment_status_when_classified_then_the_phase_is_right(status: str, phase: polling.Phase) -> None:
    assert polling.deployment_phase(status) is phase


def test_given_the_api_model_when_deployment_statuses_are_listed_then_each_one_has_a_phase() -> None:
    import botocore.session

    shape = botocore.session.get_session().get_service_model("bedrock").operation_model("GetCustomModelDeployment")
    assert set(shape.output_shape.members["status"].enum) == set(polling.DEPLOYMENT_PHASES)
