"""A job that runs for days, through the synthesized state machine on the offline world's virtual clock: its end
arrives by Bedrock's state-change event within a minute; when the event is lost, the backstop's look notices it
within its interval (every ten minutes in the first hour, then every half hour); either way the execution's own
history stays under 1,500 events. And one run on the real clock, to show real waiting works."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest

SEVEN_DAYS = 7 * 86_400
HISTORY_BUDGET = 1_500
WAITS = ("Wait for the job to end (first hour)", "Wait for the job to end")


def _in_job_waits(result) -> list:
    """The history's events while the run was in one of the states that wait for the job."""
    state, found = "", []
    for event in result.history:
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        elif state in WAITS:
            found.append(event)
    return found


def _looks(result) -> list:
    """When each look at the job was scheduled (each attempt of the waiting tasks), from the history."""
    return [e["timestamp"] for e in _in_job_waits(result) if e["type"] == "TaskScheduled"]


def _job_end_noticed(result):
    (answered,) = [e for e in _in_job_waits(result) if e["type"] == "TaskSucceeded"]
    return answered["timestamp"]


def test_given_a_seven_day_job_when_its_end_event_arrives_then_the_run_goes_on_within_a_minute(
    offline, dataset_file
):
    pipeline = offline(job_seconds=SEVEN_DAYS)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    (job,) = pipeline.bedrock.jobs.values()
    ended = pipeline.bedrock._time(job.created + SEVEN_DAYS)
    assert timedelta(0) <= _job_end_noticed(result) - ended <= timedelta(minutes=1)
    (resumed,) = [d for d in pipeline.bus.deliveries if d.module == "job_state_changed"]
    assert resumed.ok and resumed.result["resumed"] is True
    assert len(result.history) <= HISTORY_BUDGET, len(result.history)


def test_given_a_seven_day_job_whose_end_event_is_lost_when_run_then_the_backstop_notices_it(offline, dataset_file):
    pipeline = offline(job_seconds=SEVEN_DAYS, job_events=False)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    assert pipeline.job_events_sent == 1 and not [d for d in pipeline.bus.deliveries if d.module == "job_state_changed"]
    (job,) = pipeline.bedrock.jobs.values()
    late = _job_end_noticed(result) - pipeline.bedrock._time(job.created + SEVEN_DAYS)
    assert timedelta(0) <= late <= timedelta(minutes=31)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(_looks(result))]
    assert gaps[:5] == [pytest.approx(601, abs=2)] * 5  # the first hour: a look every ten minutes ...
    assert set(round(g) for g in gaps[6:]) <= {1801}  # ... then every half hour (a look at every timeout)
    assert len(gaps) > 300
    assert len(result.history) <= HISTORY_BUDGET, len(result.history)
    assert [e["stateEnteredEventDetails"]["name"] for e in result.history
            if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] in WAITS] == list(WAITS)


def test_given_the_end_event_arrives_twice_when_the_run_has_moved_on_then_it_resumes_nothing(offline, dataset_file):
    pipeline = offline(job_seconds=3 * 3600)
    key = pipeline.upload(dataset_file)
    result = pipeline.run({"dataset": key})
    first = next(e for e in pipeline.bus.log if e["source"] == "aws.bedrock")

    (again,) = pipeline.emit(first)

    assert result.status == "SUCCEEDED", result.message
    assert again.ok and again.result["resumed"] is False and "no run" in again.result["reason"]
    assert pipeline.keys(pipeline.settings["layout"]["waitsPrefix"]) == []


def test_given_the_real_clock_when_a_short_job_runs_then_its_end_is_awaited_for_real(synthesized, dataset_file):
    from distill_cli.offline.world import OfflinePipeline

    with OfflinePipeline(synthesized=synthesized, real_time=True, job_seconds=0.5) as pipeline:
        key = pipeline.upload(dataset_file)
        started = time.monotonic()
        result = pipeline.run({"dataset": key})
        took = time.monotonic() - started

    assert result.status == "SUCCEEDED", result.message
    assert 0.5 <= took < 10  # the job's half second really passed, and nothing else waited
    assert 0.5 <= result.virtual_seconds < 10
