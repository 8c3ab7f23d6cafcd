"""Datasets: one streaming pass that detects the input shape, validates against Bedrock's rules and
writes bedrock-conversation-2024 JSONL. The Lambda and the ``distill`` CLI share it.

Only msgspec and the standard library are used here (the Lambda bundle has no orjson); the S3 adapters take
a client as an argument, so importing this package never imports boto3.
"""

from distill.dataset.engine import Sink, Source, convert
from distill.dataset.formats import detect
from distill.dataset.local import AtomicFileSink, LocalFileSource, local_sources
from distill.dataset.report import DatasetReport, RecordError
from distill.dataset.rules import INPUT_FORMATS, ON_INVALID, SCHEMA_VERSION, ConvertOptions, DatasetRules
from distill.dataset.s3 import S3MultipartSink, S3ObjectSource, s3_sources

__all__ = [
    "INPUT_FORMATS",
    "ON_INVALID",
    "SCHEMA_VERSION",
    "AtomicFileSink",
    "ConvertOptions",
    "DatasetReport",
    "DatasetRules",
    "LocalFileSource",
    "RecordError",
    "S3MultipartSink",
    "S3ObjectSource",
    "Sink",
    "Source",
    "convert",
    "detect",
    "local_sources",
    "s3_sources",
]
