"""``distill logs profile|export`` on local folders: exit codes, what is printed, files written or left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from distill_cli.main import main
from tests.unit.invocation_logs.logs_helpers import SAMPLE, gz, ndjson, tagged, write_logs

SUPPORT = '{"equals": {"use-case": "support"}}'
RETURNS = '{"equals": {"use-case": "returns"}}'


def test_given_the_sample_and_the_support_filter_when_profiled_then_exit_0_and_a_readable_preview(capsys) -> None:
    assert main(["logs", "profile", str(SAMPLE), "--filter", SUPPORT, "--use-prompt-response"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert f"Invocation logs  {SAMPLE} (16 files, 301 records, 0 invalid," in out
    assert "Filter           use-case = 'support'" in out
    rows = {line[:50].strip(): line[50:].split() for line in out.splitlines() if len(line) > 50}
    assert rows["records"] == ["301", "169"]
    assert rows["usable (text conversation)"] == ["287", "167"]
    assert rows["with a response from the teacher"] == ["160"]
    assert rows["use-case"] == ["229", "169"] and rows["support"] == ["169", "169"] and rows["billing"] == ["38", "0"]
    assert rows["(no requestMetadata)"] == ["72", "0"]
    assert rows["amazon.nova-lite-v1:0"] == ["6", "6"]
    assert "tokens (selected)    input 8,013  output 9,442" in out
    assert "answered by amazon.nova-lite-v1:0" in out
    assert out.rstrip().splitlines()[-1].startswith("ACCEPTED: 160 usable records with a response from amazon.nova-pro")


def test_given_a_filter_that_selects_too_few_when_profiled_then_exit_1_and_the_keys_that_exist(capsys) -> None:
    assert main(["logs", "profile", str(SAMPLE), "--filter", RETURNS]) == 1
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert last.startswith("REJECTED: the filter selects 12 usable records with a response; Bedrock needs at least 100")
    assert "'use-case' in 229 ('support' 169, 'billing' 38" in last


def test_given_json_when_profiled_then_stdout_is_the_profile_and_the_verdict_goes_to_stderr(capsys) -> None:
    assert main(["logs", "profile", str(SAMPLE), "--filter", SUPPORT, "--json"]) == 0
    out, err = capsys.readouterr()
    profile = json.loads(out)
    assert profile["recordsScanned"] == 301 and profile["selected"]["records"] == 169 and profile["ok"] is True
    assert err.startswith("ACCEPTED: 166 usable records with a response")


def test_given_a_filter_file_or_the_api_field_when_profiled_then_both_are_read(tmp_path: Path, capsys) -> None:
    path = tmp_path / "filter.json"
    path.write_text(json.dumps({"requestMetadataFilters": {"orAll": [{"equals": {"use-case": "support"}}]}}))
    assert main(["logs", "profile", str(SAMPLE), "--filter", f"@{path}"]) == 0
    assert "Filter           use-case = 'support'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--filter", "{nope"], "--filter is not JSON"),
        (["--filter", '{"equals": {"a": "b", "c": "d"}}'], "--filter: $.requestMetadataFilters.equals: needs exactly"),
        (["--filter", '{"andAll": [{"orAll": []}]}'], "$.requestMetadataFilters.andAll[0]: andAll holds only base"),
        (["--filter", "@/no/such/file.json"], "--filter: [Errno 2]"),
        (["--use-prompt-response", "--teacher", ""], "--teacher must not be empty"),
    ],
)
def test_given_a_bad_filter_when_profiling_then_exit_2_naming_it(argv: list[str], message: str, capsys) -> None:
    assert main(["logs", "profile", str(SAMPLE), *argv]) == 2
    assert message in capsys.readouterr().err


def test_given_an_unreadable_source_when_profiling_then_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["logs", "profile", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["logs", "profile", str(tmp_path)]) == 2
    assert "no .json.gz or .json files" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["logs"], ["logs", "profile"], ["logs", "export", "src"], ["logs", "nope", "x"],
                                  ["logs", "profile", "x", "--on-invalid", "skip"]])  # fmt: skip
def test_given_bad_arguments_when_parsed_then_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2


def test_given_a_truncated_file_when_profiled_then_fail_exits_1_and_drop_exits_0(tmp_path: Path, capsys) -> None:
    write_logs(tmp_path / "2026/11/24/09", "a.json.gz", tagged(150))
    whole = gz(ndjson(tagged(20, start=150)))
    (tmp_path / "2026/11/24/10").mkdir(parents=True)
    cut = tmp_path / "2026/11/24/10/b.json.gz"
    cut.write_bytes(whole[: len(whole) - 30])
    assert main(["logs", "profile", str(tmp_path), "--filter", SUPPORT]) == 1
    captured = capsys.readouterr()
    assert f"error [invalid-gzip] {cut} line " in captured.err
    assert "REJECTED: 1 invalid log lines (on_invalid=fail)" in captured.out
    assert main(["logs", "profile", str(tmp_path), "--filter", SUPPORT, "--on-invalid", "drop"]) == 0
    assert f"dropped [invalid-gzip] {cut} line " in capsys.readouterr().err


def test_given_the_sample_when_exported_then_both_files_are_written_and_counts_printed(tmp_path: Path, capsys) -> None:
    out = tmp_path / "support.jsonl"
    assert main(["logs", "export", str(SAMPLE), str(out), "--filter", SUPPORT]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "read 301 records from 16 files: 169 selected, 167 usable, 10 duplicate prompts left out",
        "6 answers by other models than amazon.nova-pro-v1:0 left out (prompts kept)",
        f"wrote {out}: 152 records, 145 with the logged answer, 7 prompts only (the teacher answers them)",
        f"wrote {tmp_path / 'support.holdout.jsonl'}: 5 hold-out records (0.05 by prompt hash)",
    ]
    assert main(["validate", str(out)]) == 0


def test_given_a_selection_too_small_when_exported_then_exit_1_and_out_untouched(tmp_path: Path, capsys) -> None:
    out = tmp_path / "returns.jsonl"
    out.write_text("keep me")
    assert main(["logs", "export", str(SAMPLE), str(out), "--filter", RETURNS, "--holdout", "0"]) == 1
    assert "nothing written: only 12 training records" in capsys.readouterr().out
    assert out.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["returns.jsonl"]


@pytest.mark.parametrize(
    ("out", "extra", "message"),
    [("x.json", [], "OUT must end with .jsonl"), ("x.jsonl", ["--holdout", "0.9"], "between 0 and 0.5"),
     ("missing-folder/x.jsonl", [], "no such folder for OUT")],
)  # fmt: skip
def test_given_a_bad_out_when_exporting_then_exit_2(
    tmp_path: Path, out: str, extra: list, message: str, capsys
) -> None:
    assert main(["logs", "export", str(SAMPLE), str(tmp_path / out), *extra]) == 2
    assert message in capsys.readouterr().err


def test_given_the_console_script_on_a_local_folder_when_profiling_then_boto3_is_never_imported() -> None:
    command = [sys.executable, "-X", "importtime", "-m", "distill_cli.main", "logs", "profile", str(SAMPLE),
               "--filter", RETURNS]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert "boto3" not in done.stderr and "botocore" not in done.stderr
    assert "REJECTED" in done.stdout
