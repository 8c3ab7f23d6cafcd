"""Which records are held out of training to evaluate the student: the same ones on every rerun.

A record's *key* is a 64-bit BLAKE2b hash of its normalized prompt (Unicode NFC, whitespace runs collapsed to
one space, trimmed; case is kept). The held-out set is the ``k`` distinct keys with the smallest values, where

    k = clamp(round(fraction * records), minimum, maximum)

further lowered, if needed, so that at least ``reserve`` records (Bedrock's minimum of 100) stay for training.
Because it depends only on the keys and the record count, the split is the same whatever the order of the
records, and records with the same normalized prompt are always on the same side (a duplicate of an evaluation
prompt never leaks into training).

**One pass.** The streaming converter does not know the record count before the end, so a fixed hash threshold
could not guarantee the minimum and maximum. Instead :class:`Selector` keeps a *bottom-k* buffer: the records
of the ``maximum`` smallest keys seen so far. A record whose key is larger than all of them can never be held
out and goes to training at once; a record pushed out of the buffer by a smaller key goes to training then. At
the end the count is known, ``k`` is computed, the ``k`` smallest keys are held out and the rest of the buffer
is appended to training. Memory is bounded by the records of ``maximum`` distinct prompts (500 by default; a
few MB for typical records); no second read of the input is needed. The result also gives the largest held-out
key (``cutoff``): ``prompt_key(p) <= cutoff`` tells for any prompt, later, which side it is on.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
_HOLDOUT = b"distill-holdout"  # BLAKE2b personalization (at most 16 bytes): one hash per purpose
BEDROCK_MIN_RECORDS = 100


def normalize(text: str) -> str:
    """The form of a prompt that is hashed: NFC, whitespace runs collapsed to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


# ASCII whitespace as str.split() sees it (\x1c-\x1f included), mapped to a space.
_ASCII_SPACES = bytes.maketrans(b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f", b" " * 9)


def _normalized_bytes(text: str) -> bytes:
    """UTF-8 of ``normalize(text)``; ASCII text (most prompts) takes a faster path with the same result."""
    if text.isascii():  # NFC changes nothing; collapse whitespace without building a string per word
        data = text.encode("ascii").translate(_ASCII_SPACES)
        while b"  " in data:
            data = data.replace(b"  ", b" ")
        return data.strip(b" ")
    return normalize(text).encode("utf-8", "surrogatepass")


def prompt_key(text: str, purpose: bytes = _HOLDOUT) -> int:
    """64-bit hash of the normalized prompt (stable across processes and Python versions)."""
    digest = hashlib.blake2b(_normalized_bytes(text), digest_size=8, person=purpose[:16]).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class HoldoutPolicy:
    fraction: float = 0.05
    minimum: int = 20
    maximum: int = 500
    reserve: int = BEDROCK_MIN_RECORDS  # records that must stay for training

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError("fraction must be in (0, 1]")
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        if self.reserve < 0:
            raise ValueError("reserve must not be negative")

    def target(self, records: int) -> int:
        """How many distinct prompts to hold out of ``records`` (before the reserve for training)."""
        wanted = math.floor(self.fraction * records + 0.5)
        return max(self.minimum, min(self.maximum, wanted))


@dataclass
class HeldOut(Generic[T]):
    key: int
    prompt: str  # as first seen (duplicates may differ in whitespace)
    payloads: list[T]


@dataclass
class Selection(Generic[T]):
    held_out: list[HeldOut[T]]  # by key, smallest first
    released: list[T]  # buffered records that go to training after all, in input order
    records: int  # records offered
    target: int  # distinct prompts the policy asked for
    problem: str = ""  # non-empty: fewer than the minimum could be held out (then none are)

    @property
    def held_out_records(self) -> int:
        return sum(len(group.payloads) for group in self.held_out)

    @property
    def training_records(self) -> int:
        return self.records - self.held_out_records

    @property
    def cutoff(self) -> int | None:
        """The largest held-out key: a prompt is held out exactly when ``prompt_key(prompt) <= cutoff``."""
        return self.held_out[-1].key if self.held_out else None

    def is_held_out(self, prompt: str) -> bool:
        cutoff = self.cutoff
        return cutoff is not None and prompt_key(prompt) <= cutoff

    def prompts(self) -> list[str]:
        return [group.prompt for group in self.held_out]


@dataclass
class _Group(Generic[T]):
    prompt: str
    entries: list[tuple[int, T]] = field(default_factory=list)  # (arrival number, payload)


class Selector(Generic[T]):
    """The one-pass hold-out. For each valid record, in input order::

        for payload in selector.offer(prompt, payload):   # 0 or more records that go to training now
            write(payload)
        selection = selector.finish()                      # once, after the last record
        for payload in selection.released: write(payload)  # buffered records that go to training after all
        selection.held_out                                  # the evaluation prompts (and their records)

    ``payload`` is whatever the caller writes for the record (e.g. the converted line); it is returned, never
    looked at.
    """

    def __init__(self, policy: HoldoutPolicy | None = None) -> None:
        self.policy = policy or HoldoutPolicy()
        self._groups: dict[int, _Group[T]] = {}
        self._heap: list[int] = []  # negated keys of the buffered groups: the largest key on top
        self._records = 0
        self._finished = False

    @property
    def buffered(self) -> int:
        """Records held in memory now."""
        return sum(len(group.entries) for group in self._groups.values())

    def offer(self, prompt: str, payload: T) -> list[T]:
        return self.offer_key(prompt_key(prompt), prompt, payload)

    def offer_key(self, key: int, prompt: str, payload: T) -> list[T]:
        """As :meth:`offer`, with the key already computed (``prompt_key(prompt)``)."""
        if self._finished:
            raise RuntimeError("the selection is finished")
        arrival = self._records
        self._records += 1
        group = self._groups.get(key)
        if group is not None:
            group.entries.append((arrival, payload))
            return []
        if len(self._groups) < self.policy.maximum:
            self._add(key, prompt, arrival, payload)
            return []
        if key > -self._heap[0]:
            return [payload]  # larger than every buffered key: cannot be among the smallest
        evicted = self._groups.pop(-heapq.heappushpop(self._heap, -key))
        self._groups[key] = _Group(prompt, [(arrival, payload)])
        return [item for _, item in evicted.entries]

    def _add(self, key: int, prompt: str, arrival: int, payload: T) -> None:
        self._groups[key] = _Group(prompt, [(arrival, payload)])
        heapq.heappush(self._heap, -key)

    def finish(self) -> Selection[T]:
        self._finished = True
        policy, records = self.policy, self._records
        target = policy.target(records)
        ordered = sorted(self._groups.items())
        chosen = 0
        kept = 0  # records held out so far
        for _, group in ordered:
            if chosen == target or records - kept - len(group.entries) < policy.reserve:
                break
            chosen += 1
            kept += len(group.entries)
        problem = ""
        if chosen < policy.minimum and not policy.reserve:
            problem = f"{records} evaluation prompts; at least {policy.minimum} are needed"
            chosen = 0
        elif chosen < policy.minimum:
            problem = (
                f"only {chosen} of the {policy.minimum} evaluation prompts needed could be held out while keeping "
                f"{policy.reserve} of {records} records for training; nothing is held out (add records, or give "
                "evaluation.dataset, a separate file of evaluation prompts)"
            )
            chosen = 0
        held = [HeldOut(key, group.prompt, [item for _, item in group.entries]) for key, group in ordered[:chosen]]
        rest = sorted(entry for _, group in ordered[chosen:] for entry in group.entries)
        return Selection(held, [item for _, item in rest], records, target, problem)


def choose(prompts: Iterable[str], policy: HoldoutPolicy | None = None) -> frozenset[int]:
    """Indices of the held-out prompts (for data already in memory; the streaming converter uses Selector)."""
    selector: Selector[int] = Selector(policy)
    for index, prompt in enumerate(prompts):
        selector.offer(prompt, index)
    return frozenset(index for group in selector.finish().held_out for index in group.payloads)


def explicit_policy(maximum: int = 500) -> HoldoutPolicy:
    """For a separate evaluation file (``evaluation.dataset``): every prompt up to ``maximum`` (the smallest keys
    when there are more), nothing reserved; the training data is not touched."""
    return HoldoutPolicy(fraction=1.0, minimum=1, maximum=maximum, reserve=0)
