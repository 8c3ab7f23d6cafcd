"""Invocation logs in S3 (moto): a gzipped prefix read in key order, the same profile as on disk, the export
written with the multipart sink, and the CLI on s3:// URIs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from distill import aws
from distill.dataset import S3MultipartSink
from distill.invocation_logs import export, local_log_files, profile, s3_log_files
from distill_cli.main import main
from tests.unit.invocation_logs.logs_helpers import SAMPLE, SUPPORT, gz, ndjson, options, tagged

BUCKET = "northwind-bedrock-logs"
PREFIX = "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/"


@pytest.fixture
def s3() -> Iterator:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for path in sorted(SAMPLE.rglob("*.json.gz"), reverse=True):  # uploaded out of order on purpose
            client.put_object(Bucket=BUCKET, Key=path.relative_to(SAMPLE).as_posix(), Body=path.read_bytes())
        client.put_object(Bucket=BUCKET, Key="AWSLogs/123456789012/BedrockModelInvocationLogs/"
                          "amazon-bedrock-logs-permission-check", Body=b"")  # fmt: skip
        with aws.clients_from(lambda service: client):
            yield client


def test_given_the_sample_in_s3_when_listed_then_log_objects_in_key_order(s3) -> None:
    sources = s3_log_files(s3, f"s3://{BUCKET}/AWSLogs/")
    keys = [source.key for source in sources]
    assert len(keys) == 16 and keys == sorted(keys) and all(k.startswith(PREFIX + "2026/11/2") for k in keys)
    assert [s.key for s in s3_log_files(s3, f"s3://{BUCKET}/AWSLogs")] == keys  # no trailing slash: a prefix
    assert [s.key for s in s3_log_files(s3, f"s3://{BUCKET}/{keys[3]}")] == [keys[3]]


@pytest.mark.parametrize("uri", [f"s3://{BUCKET}/nothing/", f"s3://{BUCKET}/AWSLogs/missing.json.gz"])
def test_given_nothing_at_the_uri_when_listed_then_a_clear_error(s3, uri: str) -> None:
    with pytest.raises(ValueError, match=r"no such object|no \.json\.gz or \.json objects"):
        s3_log_files(s3, uri)


def test_given_the_gzipped_prefix_when_profiled_then_the_same_numbers_as_on_disk(s3) -> None:
    from_s3 = profile(s3_log_files(s3, f"s3://{BUCKET}/AWSLogs/"), options(SUPPORT, use_prompt_response=True))
    on_disk = profile(local_log_files(SAMPLE), options(SUPPORT, use_prompt_response=True))
    assert (from_s3.scanned, from_s3.selected, from_s3.teacher_pairs, from_s3.distinct_prompts) == (301, 169, 160, 150)
    assert from_s3.to_dict()["selected"] == on_disk.to_dict()["selected"]
    assert from_s3.examples[0]["where"].startswith(f"s3://{BUCKET}/{PREFIX}")


def test_given_a_truncated_object_when_profiled_then_its_s3_uri_and_line_are_named(s3) -> None:
    whole = gz(ndjson(tagged(50)))
    s3.put_object(Bucket=BUCKET, Key="broken/a.json.gz", Body=whole[:-40])
    found = profile(s3_log_files(s3, f"s3://{BUCKET}/broken/"), options(), on_invalid="drop")
    (error,) = found.invalid.kept
    assert error.kind == "invalid-gzip" and error.source == f"s3://{BUCKET}/broken/a.json.gz" and error.line > 1


def test_given_an_s3_output_when_exported_then_both_objects_appear_only_complete(s3) -> None:
    out = f"s3://{BUCKET}/datasets/support.jsonl"
    report = export(s3_log_files(s3, f"s3://{BUCKET}/AWSLogs/"), S3MultipartSink(s3, out),
                    S3MultipartSink(s3, f"s3://{BUCKET}/datasets/support.holdout.jsonl"), options(SUPPORT), 0.05)  # fmt: skip
    assert report.ok and (report.training, report.held_out) == (152, 5)
    body = s3.get_object(Bucket=BUCKET, Key="datasets/support.jsonl")["Body"].read()
    assert body.count(b"\n") == 152 and json.loads(body.splitlines()[0])["schemaVersion"] == "bedrock-conversation-2024"
    failed = export(s3_log_files(s3, f"s3://{BUCKET}/AWSLogs/"), S3MultipartSink(s3, f"s3://{BUCKET}/datasets/r.jsonl"),
                    None, options({"equals": {"use-case": "returns"}}), 0.0)  # fmt: skip
    assert not failed.ok
    assert "datasets/r.jsonl" not in [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_given_s3_uris_when_the_cli_profiles_and_exports_then_it_reads_and_writes_s3(s3, capsys) -> None:
    assert main(["logs", "profile", f"s3://{BUCKET}/AWSLogs/", "--filter", json.dumps(SUPPORT)]) == 0
    out = capsys.readouterr().out
    assert f"Invocation logs  s3://{BUCKET}/AWSLogs/ (16 files, 301 records" in out
    assert main(["logs", "export", f"s3://{BUCKET}/AWSLogs/", f"s3://{BUCKET}/out/train.jsonl", "--filter",
                 json.dumps(SUPPORT), "--use-prompt-response"]) == 0  # fmt: skip
    assert f"wrote s3://{BUCKET}/out/train.holdout.jsonl: 5 hold-out records" in capsys.readouterr().out
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["Contents"]]
    assert keys == ["out/train.holdout.jsonl", "out/train.jsonl"]


def test_given_a_missing_bucket_when_the_cli_profiles_then_exit_2(s3, capsys) -> None:
    assert main(["logs", "profile", "s3://no-such-bucket-here/AWSLogs/"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("distill logs profile: error: s3://no-such-bucket-here/AWSLogs/: cannot read:")
    assert "NoSuchBucket" in err
