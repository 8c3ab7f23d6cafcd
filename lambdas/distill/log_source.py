"""A run that trains from Bedrock's model invocation logs instead of a prepared dataset: its execution input
(``invocationLogs``) and what the run resolves it to.

The logs must be in the project's bucket, under its ``invocation-logs/`` prefix, or under one of the
``allowedInvocationLogBuckets`` prefixes of ``cdk.json``: those are exactly what the Bedrock service role and the
preview may read. The filter is checked as the API defines it (distill.invocation_logs.filters), with the
path of what is wrong.
"""

from __future__ import annotations

from typing import Any

from distill.errors import InvalidRunInput
from distill.locations import S3Location
from distill.settings import PipelineSettings, Strict

FIELD = "$.invocationLogs"


class InvocationLogsRequest(Strict, frozen=True):
    s3_uri: str
    use_prompt_response: bool = False
    request_metadata_filters: dict[str, Any] | None = None


class InvocationLogsPlan(Strict, frozen=True):
    s3_uri: str  # a prefix, ending with '/'
    use_prompt_response: bool
    request_metadata_filters: dict[str, Any] | None  # as the API takes it

    def training_data_config(self) -> dict[str, Any]:
        """CreateModelCustomizationJob's trainingDataConfig for these logs."""
        from distill.invocation_logs import invocation_logs_config

        return {"invocationLogsConfig": invocation_logs_config(self.s3_uri, self.use_prompt_response,
                                                               self.request_metadata_filters)}  # fmt: skip


def allowed_prefixes(settings: PipelineSettings) -> list[S3Location]:
    """Where a run may read invocation logs: the project's own prefix, and each allow-listed ``bucket/prefix/``."""
    own = S3Location(settings.bucket_name, settings.layout.logs_prefix)
    return [own, *(S3Location(*f"{entry.rstrip('/')}/".split("/", 1)) for entry in settings.allowed_log_buckets)]


def resolve_logs(request: InvocationLogsRequest, settings: PipelineSettings) -> InvocationLogsPlan:
    from distill.invocation_logs import FilterError, parse_filter, to_api

    try:
        where = S3Location.parse(request.s3_uri)
    except ValueError as error:
        raise InvalidRunInput(f"execution input: invocationLogs.s3Uri: {error} - at `{FIELD}.s3Uri`") from None
    if ".." in where.key.split("/"):
        raise InvalidRunInput(f"execution input: invocationLogs.s3Uri must not contain '..' - at `{FIELD}.s3Uri`")
    prefix = where if where.is_prefix else S3Location(where.bucket, where.key + "/")
    allowed = allowed_prefixes(settings)
    if not any(prefix.bucket == a.bucket and prefix.key.startswith(a.key) for a in allowed):
        raise InvalidRunInput(
            f"execution input: invocationLogs.s3Uri {prefix.uri!r} is outside the logs this pipeline may read "
            f"({', '.join(a.uri for a in allowed)}); copy the logs there or add the prefix to "
            f"allowedInvocationLogBuckets in cdk.json - at `{FIELD}.s3Uri`"
        )
    filters = None
    if request.request_metadata_filters is not None:
        try:
            filters = to_api(parse_filter(request.request_metadata_filters, path=f"{FIELD}.requestMetadataFilters"))
        except FilterError as error:
            raise InvalidRunInput(f"execution input: {error}") from None
    return InvocationLogsPlan(prefix.uri, request.use_prompt_response, filters)
