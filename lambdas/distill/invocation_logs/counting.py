"""Bounded counters: the most frequent values of something, in flat memory whatever the input.

``TopValues`` is the Space-Saving summary (Metwally, Agrawal, El Abbadi, 2005): at most ``capacity`` counters;
a new value when all are taken replaces the smallest counter and inherits its count. Every value seen more
than total/capacity times is kept, and a kept value's count is over by at most the count it inherited
(``exact`` is True while nothing was ever replaced: then every count is exact).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OTHER = "(other)"


class TopValues:
    __slots__ = ("capacity", "counts", "inherited", "replaced", "total")

    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.inherited: dict[str, int] = {}
        self.replaced = False
        self.total = 0

    def add(self, value: str, n: int = 1) -> None:
        self.total += n
        counts = self.counts
        if value in counts:
            counts[value] += n
        elif len(counts) < self.capacity:
            counts[value] = n
        else:
            smallest = min(counts, key=counts.__getitem__)
            low = counts.pop(smallest)
            self.inherited.pop(smallest, None)
            counts[value] = low + n
            self.inherited[value] = low
            self.replaced = True

    @property
    def exact(self) -> bool:
        return not self.replaced

    def top(self, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` largest counts, largest first (ties by value, so the order is stable)."""
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]

    def rows(self, limit: int) -> list[tuple[str, int]]:
        """The top ``limit`` values, then OTHER with the rest of the total (when there is a rest)."""
        top = self.top(limit)
        rest = self.total - sum(count for _, count in top)
        return [*top, (OTHER, rest)] if rest > 0 else top

    def get(self, value: str) -> int:
        return self.counts.get(value, 0)


class MetadataStats:
    """How often each requestMetadata key occurs, and each key's most frequent values."""

    __slots__ = ("keys", "value_capacity", "values", "without")

    def __init__(self, key_capacity: int = 64, value_capacity: int = 64) -> None:
        self.keys = TopValues(key_capacity)
        self.value_capacity = value_capacity
        self.values: dict[str, TopValues] = {}
        self.without = 0  # records with no requestMetadata (or an empty one)

    def add(self, metadata: Mapping[str, str] | None, n: int = 1) -> None:
        """Count ``n`` records with this requestMetadata."""
        if not metadata:
            self.without += n
            return
        keys, values = self.keys, self.values
        for key, value in metadata.items():
            keys.add(key, n)
            summary = values.get(key)
            if summary is None:
                summary = values[key] = TopValues(self.value_capacity)
                if len(values) > keys.capacity:  # drop the values of keys that lost their counter
                    for gone in [name for name in values if name not in keys.counts]:
                        del values[gone]
            summary.add(value, n)

    @property
    def exact(self) -> bool:
        """Every count is exact (no counter was ever given to another key or value)."""
        return self.keys.exact and all(summary.exact for summary in self.values.values())

    def top_keys(self, limit: int) -> list[tuple[str, int]]:
        return self.keys.top(limit)

    def to_dict(self, keys: int, values: int, width: int) -> dict[str, Any]:
        out: dict[str, Any] = {"recordsWithout": self.without, "exact": self.exact, "keys": []}
        for key, count in self.keys.top(keys):
            summary = self.values.get(key)
            rows = summary.rows(values) if summary is not None else []
            out["keys"].append(
                {"key": clip(key, width), "records": count, "values": [[clip(v, width), n] for v, n in rows]}
            )
        out["keysOmitted"] = max(len(self.keys.counts) - keys, 0)
        return out


def clip(text: str, width: int) -> str:
    """At most ``width`` characters, an ellipsis marking a cut."""
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"
