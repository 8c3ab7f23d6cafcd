"""S3 in and out (moto): streamed sources in key order, and an object that appears only when complete."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from distill.dataset import ConvertOptions, S3MultipartSink, convert, s3_sources
from tests.unit.dataset.dataset_helpers import dataset, jsonl

BUCKET = "distill-test-data"
MiB = 1024 * 1024


@pytest.fixture
def s3() -> Iterator:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def big_lines(count: int) -> list[bytes]:
    """Records of about 6 KB, so a few thousand make several multipart parts."""
    return [json.dumps({"prompt": f"q{i} " + "x" * 3000, "completion": "y" * 3000}).encode() for i in range(count)]


def pending_uploads(s3) -> list:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_given_a_prefix_when_listed_then_jsonl_objects_come_in_key_order(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="in/b.jsonl", Body=jsonl(dataset(60, start=60)))
    s3.put_object(Bucket=BUCKET, Key="in/a.jsonl.gz", Body=gzip.compress(jsonl(dataset(60))))
    s3.put_object(Bucket=BUCKET, Key="in/readme.txt", Body=b"ignored")
    sources = s3_sources(s3, f"s3://{BUCKET}/in/")
    assert [s.name for s in sources] == [f"s3://{BUCKET}/in/a.jsonl.gz", f"s3://{BUCKET}/in/b.jsonl"]
    out = f"s3://{BUCKET}/datasets/run/train.jsonl"
    report = convert(sources, S3MultipartSink(s3, out), ConvertOptions(system_prompt="Be kind."))
    assert report.ok and report.records_written == 120
    body = s3.get_object(Bucket=BUCKET, Key="datasets/run/train.jsonl")["Body"].read()
    records = [json.loads(line) for line in body.splitlines()]
    assert [r["messages"][0]["content"][0]["text"] for r in records] == [
        json.loads(line)["prompt"] for line in dataset(120)
    ]
    assert records[0]["system"] == [{"text": "Be kind."}]


@pytest.mark.parametrize("uri", [f"s3://{BUCKET}/empty/", f"s3://{BUCKET}/missing.jsonl"])
def test_given_nothing_at_the_uri_when_listed_then_a_clear_error_is_raised(s3, uri: str) -> None:
    with pytest.raises(ValueError, match=r"no such object|no \.jsonl"):
        s3_sources(s3, uri)


def test_given_an_output_over_several_parts_when_committed_then_the_object_is_complete(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="in/big.jsonl", Body=jsonl(big_lines(2000)))  # ~12 MiB
    sink = S3MultipartSink(s3, f"s3://{BUCKET}/out/train.jsonl", part_size=5 * MiB)
    report = convert(s3_sources(s3, f"s3://{BUCKET}/in/big.jsonl"), sink)
    assert report.ok and len(sink.parts) == 3
    body = s3.get_object(Bucket=BUCKET, Key="out/train.jsonl")["Body"].read()
    assert len(body) == report.bytes_out and body.count(b"\n") == 2000
    assert pending_uploads(s3) == []


def test_given_an_invalid_record_after_parts_were_uploaded_when_the_run_fails_then_the_upload_is_aborted(
    s3,
) -> None:
    s3.put_object(Bucket=BUCKET, Key="out/train.jsonl", Body=b"previous dataset\n")
    s3.put_object(Bucket=BUCKET, Key="in/bad.jsonl", Body=jsonl([*big_lines(1500), b'{"prompt": 1}']))
    sink = S3MultipartSink(s3, f"s3://{BUCKET}/out/train.jsonl", part_size=5 * MiB)
    report = convert(s3_sources(s3, f"s3://{BUCKET}/in/bad.jsonl"), sink)
    assert not report.ok
    assert report.first_error == f"s3://{BUCKET}/in/bad.jsonl line 1501: $.prompt: expected a string, got number"
    assert len(sink.parts) >= 1  # parts had been uploaded before the bad line was read
    assert s3.get_object(Bucket=BUCKET, Key="out/train.jsonl")["Body"].read() == b"previous dataset\n"
    assert pending_uploads(s3) == []


def test_given_a_failed_run_and_no_previous_object_when_aborted_then_no_object_exists(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="in/few.jsonl", Body=jsonl(dataset(99)))
    report = convert(s3_sources(s3, f"s3://{BUCKET}/in/few.jsonl"), S3MultipartSink(s3, f"s3://{BUCKET}/out/x.jsonl"))
    assert report.first_error == f"s3://{BUCKET}/in/few.jsonl: only 99 valid records; Bedrock needs at least 100"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")
    assert pending_uploads(s3) == []


def test_given_an_exception_mid_stream_when_converting_then_the_upload_is_aborted(s3) -> None:
    class Exploding:
        name = "exploding.jsonl"

        def open(self):
            chunks = iter([jsonl(big_lines(1000)), jsonl(big_lines(1000))])

            class Reader:
                def read(self, n: int) -> bytes:
                    try:
                        return next(chunks)
                    except StopIteration:
                        raise ConnectionError("stream reset") from None

            return Reader()

    sink = S3MultipartSink(s3, f"s3://{BUCKET}/out/y.jsonl", part_size=5 * MiB)
    with pytest.raises(ConnectionError):
        convert([Exploding()], sink)
    assert sink.parts and pending_uploads(s3) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")


def test_given_a_part_size_under_the_s3_minimum_when_made_then_it_is_refused(s3) -> None:
    with pytest.raises(ValueError, match="at least"):
        S3MultipartSink(s3, f"s3://{BUCKET}/out/z.jsonl", part_size=MiB)
