"""Distil from the model's own traffic: Bedrock's model invocation logs as the training data.

Bedrock can train from its invocation logs directly (``trainingDataConfig.invocationLogsConfig``), selecting
records by their ``requestMetadata``. This package reads those logs as Bedrock writes them to S3 and tells,
before anything is paid for, what a ``requestMetadataFilters`` selects and whether Bedrock would accept it
(``profile``); it can also write the selection as a bedrock-conversation-2024 dataset (``export``).

msgspec and the standard library only; the S3 readers take a client, so importing this never imports boto3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from distill.lazy import lazy_exports

if TYPE_CHECKING:
    from distill.invocation_logs.conversation import NOT_USABLE, Extracted, extract
    from distill.invocation_logs.exporter import ExportReport, export, holdout_path
    from distill.invocation_logs.filters import (
        AndAll,
        Equals,
        FilterError,
        NotEquals,
        OrAll,
        RequestMetadataFilter,
        describe,
        matches,
        parse_filter,
        to_api,
    )
    from distill.invocation_logs.profiler import profile
    from distill.invocation_logs.reader import InvalidRecords, local_log_files, read_records, s3_log_files
    from distill.invocation_logs.records import AnyRecord, LogRecord, RawLogRecord, decode_record
    from distill.invocation_logs.report import LogProfile, ProfileOptions

# Loaded on first use (PEP 562), so that ``request_metadata`` costs a cold start nothing but ``re``: the reader
# and the export pull in msgspec and the dataset engine, which handlers must not load at import.
_LAZY = {
    "conversation": ("NOT_USABLE", "Extracted", "extract"),
    "exporter": ("ExportReport", "export", "holdout_path"),
    "filters": ("AndAll", "Equals", "FilterError", "NotEquals", "OrAll", "RequestMetadataFilter", "describe",
                "matches", "parse_filter", "to_api"),
    "profiler": ("profile",),
    "report": ("LogProfile", "ProfileOptions"),
    "reader": ("InvalidRecords", "local_log_files", "read_records", "s3_log_files"),
    "records": ("AnyRecord", "LogRecord", "RawLogRecord", "decode_record"),
}  # fmt: skip
__getattr__ = lazy_exports(__name__, _LAZY, globals())


# Converse / ConverseStream ``requestMetadata`` (botocore bedrock-runtime 2023-09-30, shape RequestMetadata):
# a map of 1-16 entries; key 1-256 and value 0-256 characters of [a-zA-Z0-9\s:_@$#=/+,-.] (the class's ",-."
# is the range ',' to '.', i.e. ", - ."). InvokeModel takes the same map as the JSON header
# X-Amzn-Bedrock-Request-Metadata (botocore >= 1.43.12), at most 8,500 characters.
METADATA_MAX_ENTRIES = 16
METADATA_MAX_LENGTH = 256
_CONVERSE_CHARS = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]*", re.ASCII)
# The filter side (RequestMetadataMapKeyString) lacks '#' and ',': metadata with them can be logged but never
# selected by a requestMetadataFilters.
_FILTER_CHARS = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]*", re.ASCII)


def request_metadata(pairs: Mapping[str, str] | None = None, /, **more: str) -> dict[str, str]:
    """``requestMetadata`` for a Converse call, checked so that a distillation filter can select it later.

    Keys that are not Python names go in the mapping; the others may be keyword arguments::

        import boto3
        from distill.invocation_logs import request_metadata

        runtime = boto3.client("bedrock-runtime")
        answer = runtime.converse(
            modelId="amazon.nova-pro-v1:0",
            system=[{"text": "You are Northwind's customer-support assistant."}],
            messages=[{"role": "user", "content": [{"text": "My order 4471 has not arrived."}]}],
            requestMetadata=request_metadata({"use-case": "support"}, team="support-emea", priority="high"),
        )
        # later: distill logs profile s3://logs-bucket/AWSLogs/ --filter '{"equals": {"use-case": "support"}}'

    (For InvokeModel, botocore >= 1.43.12 takes the same map as ``requestMetadata=json.dumps(...)``.)
    Refused with ValueError: no entries or more than 16, a key of 0 or over 256 characters, a value over 256,
    a character outside Converse's class, and '#' or ',' (Converse takes them, but no filter can match them).
    """
    merged: dict[str, Any] = dict(pairs or {})
    merged.update(more)
    if not 1 <= len(merged) <= METADATA_MAX_ENTRIES:
        raise ValueError(f"requestMetadata takes 1 to {METADATA_MAX_ENTRIES} entries, got {len(merged)}")
    for key, value in merged.items():
        if type(key) is not str or type(value) is not str:
            raise ValueError(f"requestMetadata keys and values are strings, got {key!r}: {value!r}")
        if not 1 <= len(key) <= METADATA_MAX_LENGTH:
            raise ValueError(f"requestMetadata key {key[:40]!r}: 1 to {METADATA_MAX_LENGTH} characters")
        if len(value) > METADATA_MAX_LENGTH:
            raise ValueError(f"requestMetadata[{key!r}]: at most {METADATA_MAX_LENGTH} characters")
        for what, text in (("key", key), ("value", value)):
            if not _CONVERSE_CHARS.fullmatch(text):
                raise ValueError(
                    f"requestMetadata {what} {text[:40]!r}: only letters, digits, whitespace and : _ @ $ # = / + , - . "
                    "are allowed (Converse)"
                )
            if not _FILTER_CHARS.fullmatch(text):
                raise ValueError(
                    f"requestMetadata {what} {text[:40]!r}: Converse accepts '#' and ',' but requestMetadataFilters "
                    "cannot match them; leave them out so this traffic can be selected"
                )
    return dict(merged)


def invocation_logs_config(
    s3_uri: str, use_prompt_response: bool = False, request_metadata_filters: Any = None
) -> dict[str, Any]:
    """``trainingDataConfig.invocationLogsConfig`` for CreateModelCustomizationJob, validated.

    ``request_metadata_filters`` is a parsed filter, the filter as decoded JSON, or None (every record)."""
    from distill.locations import BEDROCK_S3_URI

    if not BEDROCK_S3_URI.fullmatch(s3_uri):
        raise ValueError(f"{s3_uri!r} is not an s3:// URI Bedrock accepts")
    config: dict[str, Any] = {"invocationLogSource": {"s3Uri": s3_uri}, "usePromptResponse": use_prompt_response}
    if request_metadata_filters is not None:
        from distill.invocation_logs import filters

        selection = request_metadata_filters
        if not isinstance(selection, filters.Equals | filters.NotEquals | filters.AndAll | filters.OrAll):
            selection = filters.parse_filter(selection)
        config["requestMetadataFilters"] = filters.to_api(selection)
    return config


__all__ = [
    "NOT_USABLE",
    "AndAll",
    "AnyRecord",
    "Equals",
    "ExportReport",
    "Extracted",
    "FilterError",
    "InvalidRecords",
    "LogProfile",
    "LogRecord",
    "NotEquals",
    "OrAll",
    "ProfileOptions",
    "RawLogRecord",
    "RequestMetadataFilter",
    "decode_record",
    "describe",
    "export",
    "extract",
    "holdout_path",
    "invocation_logs_config",
    "local_log_files",
    "matches",
    "parse_filter",
    "profile",
    "read_records",
    "request_metadata",
    "s3_log_files",
    "to_api",
]
