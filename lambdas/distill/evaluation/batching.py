"""Batches of evaluation prompts for an inline Map state.

The Map's items and results stay tiny and carry no text: an item names a slice of the prompts file in S3
(``{"batch": 3, "start": 30, "count": 10}``), and a batch writes its answers and scores to S3 and returns only
counts. The bounds keep the state and the execution history small:

* at most ``max_batch_size`` prompts per batch (default 10): each prompt costs three Converse calls (teacher,
  student, judge, plus judge retries), a few seconds to a minute each, so a batch stays well inside one Lambda
  invocation's 15 minutes even when its calls run one after the other;
* at most ``max_batches`` batches (default 50): 500 prompts, the hold-out maximum; each Map iteration adds about
  ten history events, so 50 add about 500 of the 25,000 an execution may have;
* batch sizes differ by at most one (the prompts are spread evenly).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
MAX_BATCH_SIZE = 10
MAX_BATCHES = 50


@dataclass(frozen=True)
class Batch:
    index: int
    start: int
    count: int

    def to_item(self) -> dict[str, int]:
        """The Map item (a few dozen bytes)."""
        return {"batch": self.index, "start": self.start, "count": self.count}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Batch:
        batch, start, count = int(item["batch"]), int(item["start"]), int(item["count"])
        if batch < 0 or start < 0 or count < 1:
            raise ValueError(f"not a batch item: {item!r}")
        return cls(batch, start, count)

    def take(self, items: Sequence[T]) -> list[T]:
        return list(items[self.start : self.start + self.count])


def plan(total: int, max_batch_size: int = MAX_BATCH_SIZE, max_batches: int = MAX_BATCHES) -> list[Batch]:
    """Split ``total`` prompts into as few batches as the size bound allows, evenly.

    Raises ``ValueError`` when ``total`` needs more than ``max_batches`` batches of ``max_batch_size``.
    """
    if max_batch_size < 1 or max_batches < 1:
        raise ValueError("max_batch_size and max_batches must be at least 1")
    if total < 0:
        raise ValueError("total must not be negative")
    if total > max_batch_size * max_batches:
        raise ValueError(
            f"{total} prompts need more than {max_batches} batches of {max_batch_size}; lower evaluation.holdout"
            ".maximum or raise the bounds"
        )
    if total == 0:
        return []
    count = math.ceil(total / max_batch_size)
    small, extra = divmod(total, count)  # the first `extra` batches get one more
    batches, start = [], 0
    for index in range(count):
        size = small + (1 if index < extra else 0)
        batches.append(Batch(index, start, size))
        start += size
    return batches


def items(total: int, max_batch_size: int = MAX_BATCH_SIZE, max_batches: int = MAX_BATCHES) -> list[dict[str, int]]:
    """The Map's ``Items``: one small object per batch."""
    return [batch.to_item() for batch in plan(total, max_batch_size, max_batches)]
