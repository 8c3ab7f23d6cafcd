"""Batches for the inline Map: bounded in size and count, even, and tiny in the state."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distill.evaluation import batching
from distill.evaluation.batching import Batch


def test_given_no_prompts_when_planned_then_there_is_no_batch() -> None:
    assert batching.plan(0) == []


def test_given_the_hold_out_maximum_when_planned_then_it_is_fifty_batches_of_ten() -> None:
    plan = batching.plan(500)
    assert len(plan) == 50 and {b.count for b in plan} == {10}


def test_given_23_prompts_when_planned_then_three_even_batches_cover_them_in_order() -> None:
    assert batching.items(23) == [
        {"batch": 0, "start": 0, "count": 8},
        {"batch": 1, "start": 8, "count": 8},
        {"batch": 2, "start": 16, "count": 7},
    ]


def test_given_more_prompts_than_the_bounds_allow_when_planned_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="more than 50 batches of 10"):
        batching.plan(501)


@given(size=st.integers(1, 10), count=st.integers(1, 60), data=st.data())
def test_given_any_total_within_the_bounds_when_planned_then_batches_are_bounded_even_and_tiny(
    size, count, data
) -> None:
    total = data.draw(st.integers(0, size * count))
    plan = batching.plan(total, size, count)
    assert len(plan) <= count and all(1 <= b.count <= size for b in plan)
    assert max((b.count for b in plan), default=0) - min((b.count for b in plan), default=0) <= 1
    covered = [i for b in plan for i in range(b.start, b.start + b.count)]
    assert covered == list(range(total))
    items = [b.to_item() for b in plan]
    assert all(len(json.dumps(item)) <= 64 for item in items)
    assert len(json.dumps(items)) <= 60 * 64
    assert [Batch.from_item(item) for item in items] == plan


def test_given_a_batch_when_it_takes_its_slice_then_it_gets_exactly_its_prompts() -> None:
    prompts = [f"p{i}" for i in range(23)]
    taken = [batch.take(prompts) for batch in batching.plan(23)]
    assert [p for part in taken for p in part] == prompts


def test_given_a_wrong_item_when_read_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="not a batch item"):
        Batch.from_item({"batch": 0, "start": 0, "count": 0})
