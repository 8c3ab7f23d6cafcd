"""distill report: a run's evaluation report, found from the execution as the pipeline names its reports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from distill import naming
from distill_cli.main import main

BUCKET = "distill-data-bucket"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:DistillPipeline"
WHERE = ["--bucket", BUCKET, "--state-machine", MACHINE]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _run_id(name: str) -> str:
    return naming.run_id(name, MACHINE.replace(":stateMachine:", ":execution:") + ":" + name)


def test_given_an_evaluated_run_when_its_report_is_asked_for_then_it_is_written_where_told(s3, tmp_path, capsys):
    s3.put_object(Bucket=BUCKET, Key=f"reports/{_run_id('run-7')}/report.html", Body=b"<!DOCTYPE html><p>ok")
    out = tmp_path / "r.html"

    assert main(["report", "run-7", "--out", str(out), *WHERE]) == 0

    assert out.read_bytes() == b"<!DOCTYPE html><p>ok"
    assert capsys.readouterr().out.strip() == str(out)


def test_given_a_run_without_a_report_when_asked_then_exit_1_saying_why(s3, tmp_path, capsys):
    assert main(["report", "run-8", "--out", str(tmp_path / "r.html"), *WHERE]) == 1
    assert "was not evaluated" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_given_no_deployed_pipeline_when_asked_then_exit_2(s3, capsys, monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "run-9", "--stack-prefix", "Nothing"]) == 2
    assert "NothingPipeline not found" in capsys.readouterr().err
