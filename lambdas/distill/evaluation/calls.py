"""One model call's outcome as the evaluation records it (what the Bedrock adapter's Converse call returns)."""

from __future__ import annotations

import msgspec


class Call(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, rename="camel"):
    """The answer of one Converse call, with Bedrock's own latency and token counts (None when unknown).

    ``error`` non-empty means the call failed (after the caller's retries); ``text`` is then empty.
    """

    text: str = ""
    latency_ms: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def without_text(self) -> Call:
        return msgspec.structs.replace(self, text="")


def combined(calls: list[Call]) -> Call:
    """Several calls as one (a judge asked again): latencies and tokens added up, the last text and error.

    A count stays None only if every call lacked it."""

    def total(values: list[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    if not calls:
        return Call(error="no call was made")
    return Call(
        text=calls[-1].text,
        latency_ms=total([c.latency_ms for c in calls]),
        input_tokens=total([c.input_tokens for c in calls]),
        output_tokens=total([c.output_tokens for c in calls]),
        error=calls[-1].error,
    )
