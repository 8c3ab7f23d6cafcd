"""``distill validate`` and ``distill convert``: exit codes, messages on stderr, OUT untouched on failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from distill_cli.main import main
from tests.unit.dataset.dataset_helpers import dataset, jsonl, write_records


def test_given_a_valid_file_when_validated_then_exit_0_and_a_summary(tmp_path: Path, capsys) -> None:
    path = write_records(tmp_path / "ok.jsonl", 100)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "valid: 100 valid of 100 records, 0 dropped" in out and err == ""


def test_given_an_invalid_file_when_validated_then_exit_1_and_errors_name_file_and_line(tmp_path: Path, capsys) -> None:
    good = write_records(tmp_path / "ok.jsonl", 100)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl([*dataset(100), b'{"prompt": ""}', *[b"[]"] * 7]))
    assert main(["validate", str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert f"error [empty-text] {bad} line 101: $.prompt: text is empty" in err
    assert "7 not-an-object errors in all (5 shown)" in err
    assert "INVALID" in out


def test_given_the_json_flag_when_validating_then_stdout_is_the_report(tmp_path: Path, capsys) -> None:
    path = write_records(tmp_path / "ok.jsonl", 100)
    assert main(["validate", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["recordsValid"] == 100


def test_given_valid_input_when_converted_then_out_is_written_with_the_system_prompt_file(
    tmp_path: Path, capsys
) -> None:
    source = write_records(tmp_path / "in.jsonl", 100)
    prompt = tmp_path / "system.txt"
    prompt.write_text("You answer support tickets.\n", encoding="utf-8")
    out = tmp_path / "train.jsonl"
    assert main(["convert", str(source), str(out), "--system-prompt-file", str(prompt)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 100 and records[0]["system"] == [{"text": "You answer support tickets."}]
    assert capsys.readouterr().out.startswith("valid: 100 valid of 100 records")


def test_given_invalid_input_when_converted_then_exit_1_and_out_is_untouched(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(jsonl([*dataset(100), b'{"prompt": "a"']))
    out = tmp_path / "train.jsonl"
    out.write_text("keep me")
    assert main(["convert", str(source), str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{source} line 101: not valid JSON" in err and "left untouched" in err
    assert out.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "train.jsonl"]


def test_given_drop_when_converting_then_invalid_records_are_dropped_and_counted(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(jsonl([*dataset(100), b"[]", b"[]"]))
    out = tmp_path / "train.jsonl"
    assert main(["convert", str(source), str(out), "--on-invalid", "drop"]) == 0
    assert "2 dropped" in capsys.readouterr().out
    assert out.read_text().count("\n") == 100


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", "only-one-arg"],
        ["convert", "a", "b", "--format", "csv"],
        ["convert", "a", "b", "--system-prompt", "x", "--system-prompt-file", "f"],
        ["validate"],
    ],
)
def test_given_bad_arguments_when_parsed_then_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2


def test_given_a_missing_input_or_out_equal_to_in_when_converting_then_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["convert", str(tmp_path / "nope.jsonl"), str(tmp_path / "o.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    source = write_records(tmp_path / "in.jsonl", 100)
    before = source.read_bytes()
    assert main(["convert", str(source), str(source)]) == 2
    assert "never modified" in capsys.readouterr().err and source.read_bytes() == before
    assert main(["validate", str(tmp_path / "missing.jsonl")]) == 2


def test_given_the_console_script_when_validating_then_exit_codes_hold_and_boto3_is_not_imported(
    tmp_path: Path,
) -> None:
    good = write_records(tmp_path / "ok.jsonl", 100)
    command = [sys.executable, "-X", "importtime", "-m", "distill_cli.main", "validate", str(good)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "boto3" not in done.stderr and "botocore" not in done.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"prompt": "\xff"}\n')
    done = subprocess.run([*command[:1], *command[3:-1], str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "invalid-utf8" in done.stderr
