"""`distill local-run`: the verdict is the last line and the exit code (0 SUCCEEDED, 1 FAILED, 2 usage)."""

from __future__ import annotations

import json

import pytest

from distill_cli.main import main
from distill_cli.offline import world
from distill_cli.offline.bedrock import FAILURE_MESSAGES
from tests.workflow.conftest import BAD_LINE


@pytest.fixture(autouse=True)
def _one_synth(monkeypatch, synthesized):
    """The command synthesizes with its own context; here it reuses the suite's synth (1 s waits)."""
    monkeypatch.setattr(world, "synthesize", lambda context=None: synthesized)


def _lines(capsys) -> tuple[list[str], str]:
    captured = capsys.readouterr()
    return captured.out.rstrip("\n").splitlines(), captured.err


def test_given_a_valid_file_when_local_run_then_exit_0_and_the_last_line_is_succeeded(capsys, dataset_file, tmp_path):
    code = main(["local-run", str(dataset_file), "--provision", "--job-checks", "1", "--download", str(tmp_path)])

    lines, _ = _lines(capsys)
    assert code == 0
    assert lines[-1] == "SUCCEEDED"
    text = "\n".join(lines)
    assert "> Prepare dataset" in text and "< Check provisioned throughput" in text
    assert "records converted" in text
    for label in ("job ", "custom model ", "provisioned model "):
        assert any(line.strip().startswith(label) and "arn:aws:bedrock:" in line for line in lines), label
    assert any(line.strip().startswith("datasets/") for line in lines)
    assert any(line.strip().startswith("reports/") for line in lines)
    assert any(line.strip().startswith("jobs/") for line in lines)
    # --download: the in-memory bucket's outputs survive the run.
    assert list(tmp_path.glob("datasets/*/train.jsonl"))
    assert list(tmp_path.glob("reports/*/validation-report.json"))


def test_given_on_demand_when_local_run_then_the_model_is_deployed_and_the_summary_names_the_deployment(
    capsys, dataset_file
):
    code = main(["local-run", str(dataset_file), "--on-demand", "--job-checks", "1"])

    lines, _ = _lines(capsys)
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "SUCCEEDED"
    text = "\n".join(lines)
    assert "with an on-demand deployment" in text
    assert "> Deploy the model on demand" in text and "< Check the deployment" in text
    assert any(
        line.strip().startswith("deployment ") and ":custom-model-deployment/" in line and "per token" in line
        for line in lines
    )


def test_given_the_deployment_fails_when_local_run_then_exit_1_with_bedrocks_message(capsys, dataset_file):
    from distill_cli.offline.bedrock import DEPLOYMENT_FAILURE

    code = main(["local-run", str(dataset_file), "--on-demand", "--deployment-fails", "--job-checks", "1", "--quiet"])

    lines, _ = _lines(capsys)
    assert code == 1
    assert lines[-1].startswith("FAILED: DeploymentFailed")
    assert DEPLOYMENT_FAILURE in lines[-1]


def test_given_provision_and_on_demand_together_when_local_run_then_exit_2(capsys, dataset_file):
    with pytest.raises(SystemExit) as exited:
        main(["local-run", str(dataset_file), "--provision", "--on-demand"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_given_a_file_with_a_broken_line_when_local_run_then_exit_1_naming_the_line(capsys, invalid_dataset_file):
    code = main(["local-run", str(invalid_dataset_file)])

    lines, _ = _lines(capsys)
    assert code == 1
    assert lines[-1].startswith("FAILED: DatasetInvalid")
    assert f"line {BAD_LINE}" in lines[-1]
    assert any("job" in line and "(none created)" in line for line in lines)


@pytest.mark.parametrize("outcome", ["failed", "stopped"])
def test_given_the_job_ends_badly_when_local_run_then_exit_1_with_bedrocks_message(capsys, dataset_file, outcome):
    code = main(["local-run", str(dataset_file), "--job-outcome", outcome, "--job-checks", "1", "--quiet"])

    lines, _ = _lines(capsys)
    assert code == 1
    assert lines[-1].startswith("FAILED: ")
    assert FAILURE_MESSAGES[outcome] in lines[-1]


def test_given_input_with_an_unknown_field_when_local_run_then_exit_1_naming_the_field(capsys, dataset_file):
    code = main(["local-run", str(dataset_file), "--input", json.dumps({"maxResponseLen": 10}), "--quiet"])

    lines, _ = _lines(capsys)
    assert code == 1
    assert lines[-1].startswith("FAILED: InvalidRunInput")
    assert "maxResponseLen" in lines[-1]


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]"])
def test_given_bad_input_json_when_local_run_then_exit_2_with_a_message(capsys, dataset_file, bad):
    code = main(["local-run", str(dataset_file), "--input", bad])

    out, err = _lines(capsys)
    assert code == 2
    assert "--input" in err
    assert out == []  # nothing ran


def test_given_a_missing_file_when_local_run_then_exit_2(capsys, tmp_path):
    code = main(["local-run", str(tmp_path / "nope.jsonl")])

    _, err = _lines(capsys)
    assert code == 2
    assert "no such file" in err


def test_given_invocation_logs_and_a_filter_when_local_run_then_the_job_trains_from_them(capsys):
    code = main(["local-run", "--invocation-logs", "samples/invocation-logs", "--use-prompt-response",
                 "--filter", '{"equals": {"use-case": "support"}}', "--job-checks", "1"])  # fmt: skip

    lines, _ = _lines(capsys)
    assert code == 0, lines[-1]
    text = "\n".join(lines)
    assert "> Preview the invocation logs" in text and "> Prepare dataset" not in text
    assert "169 of 301 log records selected, 160 answered by the teacher; ACCEPTED" in text


def test_given_a_filter_that_selects_too_little_when_local_run_then_exit_1_with_the_existing_keys(capsys):
    code = main(["local-run", "--invocation-logs", "samples/invocation-logs",
                 "--filter", '{"equals": {"use-case": "returns"}}', "--quiet"])  # fmt: skip

    lines, _ = _lines(capsys)
    assert code == 1
    assert lines[-1].startswith("FAILED: DatasetInvalid: REJECTED: the filter selects 12 usable records")
    assert "'use-case' in 229" in lines[-1]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "give a dataset FILE or --invocation-logs DIR"),
        (["samples/support-tickets.jsonl", "--invocation-logs", "samples/invocation-logs"], "exactly one"),
        (["samples/support-tickets.jsonl", "--filter", "{}"], "need --invocation-logs"),
        (["--invocation-logs", "no/such/dir"], "no such folder"),
        (["--invocation-logs", "samples/invocation-logs", "--filter", "{team"], "--filter is not valid JSON"),
        (["--invocation-logs", "samples/invocation-logs", "--via-drop"], "--via-drop"),
    ],
)
def test_given_a_bad_choice_of_training_data_when_local_run_then_exit_2_saying_why(capsys, argv, says):
    assert main(["local-run", *argv]) == 2
    assert says in _lines(capsys)[1]


def test_given_many_copies_and_a_quota_of_three_when_local_run_then_all_succeed_and_at_most_three_jobs_ran(
    capsys, dataset_file
):
    code = main(["local-run", str(dataset_file), "--many", "7", "--max-running-jobs", "3", "--job-hours", "2"])

    lines, _ = _lines(capsys)
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "SUCCEEDED"
    runs = [line for line in lines if line.strip()[:1].isdigit() and "in the job queue" in line]
    assert len(runs) == 7 and all("SUCCEEDED" in line for line in runs)
    # Three start at once; the others wait for a slot (2 h jobs): four of them wait at least one job's time.
    assert sum("2h00m00s in the job queue" in line or "4h00m01s in the job queue" in line for line in runs) == 4
    assert "7 of 7 runs SUCCEEDED; 7 jobs created; at most 3 ran at once" in "\n".join(lines)
    assert any(line.startswith("job queue: limit 3 (quota-applied") for line in lines)


@pytest.mark.parametrize(("argv", "says"), [
    (["--many", "1"], "--many must be between 2 and 100"),
    (["--many", "3", "--via-drop"], "--many drops copies of a dataset FILE"),
    (["--max-running-jobs", "2"], "--max-running-jobs needs --many"),
    (["--many", "3", "--max-running-jobs", "0"], "--max-running-jobs must be at least 1"),
])  # fmt: skip
def test_given_a_bad_use_of_many_when_local_run_then_exit_2_saying_why(capsys, dataset_file, argv, says):
    code = main(["local-run", str(dataset_file), *argv])

    _, err = _lines(capsys)
    assert code == 2 and says in err
