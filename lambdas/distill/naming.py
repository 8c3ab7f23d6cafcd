"""Names and tokens derived from a Step Functions execution.

Everything a run creates is named after its execution, so a retried task or a repeated event finds the
same names again, and a person can tell from a Bedrock job which run made it. Each generated name is valid
for the Bedrock API patterns (checked against botocore's model in tests/unit/test_naming.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Bedrock's patterns (botocore service model, bedrock 2023-04-20).
JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*")
MODEL_NAME_PATTERN = re.compile(r"([0-9a-zA-Z][_-]?){1,63}")  # custom model, provisioned model, deployment
CLIENT_TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")
TAG_PATTERN = re.compile(r"[a-zA-Z0-9\s._:/=+@-]*")
NAME_MAX = 63

_RUN_ID_SLUG_MAX = 40
_HASH_LEN = 8


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def slug(text: str, max_length: int) -> str:
    """Lower-case letters and digits separated by single hyphens; never empty."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "-".join(words)[:max_length].strip("-")
    return out or "run"


def run_id(execution_name: str, execution_arn: str) -> str:
    """A short id for one execution: readable slug of its name plus a hash of its ARN (unique per machine)."""
    return f"{slug(execution_name, _RUN_ID_SLUG_MAX)}-{_digest(execution_arn, _HASH_LEN)}"


def job_name(run: str) -> str:
    return _fit(f"distill-{run}")


def custom_model_name(run: str) -> str:
    return _fit(f"distilled-{run}")


def provisioned_model_name(run: str) -> str:
    return _fit(f"distilled-{run}-pt")


def deployment_name(run: str) -> str:
    return _fit(f"distilled-{run}-od")


def client_request_token(execution_arn: str, purpose: str) -> str:
    """Idempotency token: the same execution and purpose always give the same token (64 hex chars)."""
    return _digest(f"{purpose}:{execution_arn}", 64)


def execution_name_for_object(key: str, version_or_etag: str) -> str:
    """A Step Functions execution name (<= 80 chars) that is the same for every event about one object."""
    base = slug(key.rsplit("/", 1)[-1].removesuffix(".gz").removesuffix(".jsonl"), 50)
    return f"drop-{base}-{_digest(key + '@' + version_or_etag, 16)}"


def tag_value(text: str, max_length: int = 256) -> str:
    """``text`` as a Bedrock tag value (pattern ``[a-zA-Z0-9\\s._:/=+@-]*``): accents dropped (é -> e), every other
    character outside the pattern becomes '-'. Step Functions allows execution names Bedrock's tags refuse
    (``( ) ! '``, non-ASCII letters)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-zA-Z0-9 \t\n\x0b\f\r._:/=+@-]", "-", ascii_text)[:max_length]  # \s as Java means it


def _fit(name: str) -> str:
    """Cut a generated name to the API maximum without leaving a trailing separator."""
    return name[:NAME_MAX].rstrip("-_")


def is_valid_job_name(name: str) -> bool:
    return 1 <= len(name) <= NAME_MAX and JOB_NAME_PATTERN.fullmatch(name) is not None


def is_valid_model_name(name: str) -> bool:
    return 1 <= len(name) <= NAME_MAX and MODEL_NAME_PATTERN.fullmatch(name) is not None
