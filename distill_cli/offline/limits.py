"""Service limits the offline world enforces, each with the AWS page that states it.

moto enforces none of these; a run that would break one in AWS must break here too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# "Environment variables: 4 KB, for all environment variables associated with the function, in aggregate."
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ENVIRONMENT_BYTES = 4 * 1024
# "Invocation payload (request and response): 6 MB each for synchronous ... 256 KB for asynchronous" (same page).
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
LAMBDA_ASYNC_PAYLOAD_BYTES = 256 * 1024
# Step Functions: 256 KiB per state input/output (distill_cli.offline.asl.interpreter.PAYLOAD_LIMIT).


class LimitExceeded(ValueError):
    """A value is over a service limit; the message names the limit and the size."""


def environment_bytes(variables: Mapping[str, str]) -> int:
    """The size Lambda counts: keys and values, UTF-8 (as the CreateFunction error reports it)."""
    return sum(len(key.encode()) + len(str(value).encode()) for key, value in variables.items())


def check_environment(function: str, variables: Mapping[str, str]) -> None:
    size = environment_bytes(variables)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        biggest = sorted(variables, key=lambda k: len(str(variables[k]).encode()), reverse=True)[:3]
        raise LimitExceeded(
            f"{function}: Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {size} bytes "
            f"(largest: {', '.join(biggest)})"
        )


def payload_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
