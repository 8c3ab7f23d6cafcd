"""The hold-out: the same records on every rerun, whatever their order, within its bounds, never in training."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.evaluation.holdout import (
    HoldoutPolicy,
    Selector,
    _normalized_bytes,
    choose,
    explicit_policy,
    normalize,
    prompt_key,
)

DEFAULT = HoldoutPolicy()


def prompts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"ticket {i}: my order {rng.randrange(10**6)} has not arrived" for i in range(n)]


def stream(texts: list[str], policy: HoldoutPolicy = DEFAULT):
    """Run the one-pass selector as the converter would: what goes to training, and the selection."""
    selector: Selector[int] = Selector(policy)
    training: list[int] = []
    peak = 0
    for index, text in enumerate(texts):
        training.extend(selector.offer(text, index))
        peak = max(peak, selector.buffered)
    selection = selector.finish()
    training.extend(selection.released)
    return training, selection, peak


def test_given_the_same_records_when_chosen_twice_then_the_same_records_are_held_out() -> None:
    records = prompts(3000)
    assert choose(records) == choose(list(records))
    assert len(choose(records)) == 150  # 5% of 3000


def test_given_the_records_in_another_order_when_chosen_then_the_same_prompts_are_held_out() -> None:
    records = prompts(3000)
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    first = {records[i] for i in choose(records)}
    second = {shuffled[i] for i in choose(shuffled)}
    assert first == second


@pytest.mark.parametrize(
    ("records", "held"),
    [
        (119, 0),  # 20 held out would leave 99 < 100 for training: nothing is held out
        (120, 20),  # the minimum, leaving exactly Bedrock's 100
        (400, 20),  # 5% of 400 is 20
        (410, 21),  # 20.5 rounds half up
        (2000, 100),
        (10_000, 500),  # 5% of 10,000 is the maximum
        (15_000, 500),  # capped
    ],
)
def test_given_a_record_count_when_held_out_then_the_count_is_five_percent_within_20_and_500(records, held) -> None:
    training, selection, _ = stream(prompts(records))
    assert len(selection.held_out) == held
    assert selection.training_records == records - held == len(training)
    assert bool(selection.problem) == (held == 0)


def test_given_too_few_records_when_held_out_then_the_problem_says_why_and_training_keeps_everything() -> None:
    training, selection, _ = stream(prompts(110))
    assert selection.held_out == [] and sorted(training) == list(range(110))
    assert "only 10 of the 20 evaluation prompts" in selection.problem and "evaluation.dataset" in selection.problem


def test_given_held_out_records_when_training_is_written_then_none_of_their_prompts_is_in_it() -> None:
    base = prompts(1500)
    # Duplicates that differ only in whitespace and Unicode normalization must land on the same side.
    records = (
        base + [f"  {text}\n" for text in base[:300]] + [unicodedata.normalize("NFD", "café " + t) for t in base[:50]]
    )
    records += ["café " + t for t in base[:50]]
    training, selection, _ = stream(records)
    held = {index for group in selection.held_out for index in group.payloads}
    assert held.isdisjoint(training) and held | set(training) == set(range(len(records)))
    held_prompts = {normalize(records[i]) for i in held}
    assert not any(normalize(records[i]) in held_prompts for i in training)
    assert all(prompt_key(records[i]) > selection.cutoff for i in training)  # type: ignore[operator]
    assert all(selection.is_held_out(records[i]) for i in held)


def test_given_a_large_dataset_when_streamed_then_at_most_the_maximum_number_of_prompts_is_buffered() -> None:
    policy = HoldoutPolicy(maximum=50)
    _, selection, peak = stream(prompts(5000), policy)
    assert peak <= 50 and len(selection.held_out) == 50


def test_given_a_prompt_when_normalized_then_whitespace_and_unicode_form_do_not_change_its_key() -> None:
    assert prompt_key("  Where is\n\tmy  order? ") == prompt_key("Where is my order?")
    assert prompt_key(unicodedata.normalize("NFD", "café")) == prompt_key("café")
    assert prompt_key("Where is my order?") != prompt_key("where is my order?")  # case is meaning


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30) | st.text(max_size=30))
def test_given_any_text_when_hashed_then_the_ascii_fast_path_agrees_with_the_definition(text: str) -> None:
    assert _normalized_bytes(text) == normalize(text).encode("utf-8", "surrogatepass")


def test_given_a_prompt_when_hashed_then_the_key_is_the_documented_64_bit_blake2b() -> None:
    # Pinned: changing the hash would silently change which records every rerun holds out.
    assert prompt_key("hello") == 0x04C2D1E964FD573B
    assert 0 <= prompt_key("x") < 2**64


def test_given_an_empty_evaluation_file_when_chosen_then_the_problem_says_so() -> None:
    assert Selector(explicit_policy()).finish().problem == "0 evaluation prompts; at least 1 are needed"


def test_given_a_separate_evaluation_file_when_chosen_then_everything_up_to_the_maximum_is_used() -> None:
    assert choose(prompts(30), explicit_policy()) == frozenset(range(30))
    big = prompts(600)
    chosen = choose(big, explicit_policy())
    assert len(chosen) == 500
    smallest = sorted(range(600), key=lambda i: prompt_key(big[i]))[:500]
    assert chosen == frozenset(smallest)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.sampled_from([f"p{i}" for i in range(400)]) | st.text(max_size=6), min_size=0, max_size=700),
    fraction=st.floats(0.01, 0.5),
    minimum=st.integers(1, 30),
    spread=st.integers(0, 40),
    reserve=st.integers(0, 120),
    order=st.randoms(use_true_random=False),
)
def test_given_any_records_when_held_out_then_bounds_hold_and_order_does_not_matter(
    texts, fraction, minimum, spread, reserve, order
) -> None:
    policy = HoldoutPolicy(fraction=fraction, minimum=minimum, maximum=minimum + spread, reserve=reserve)
    training, selection, _ = stream(texts, policy)
    groups = len(selection.held_out)
    assert groups == 0 or policy.minimum <= groups <= policy.maximum
    assert groups <= policy.target(len(texts))
    if groups:
        assert selection.training_records >= policy.reserve
        # exactly the smallest distinct keys
        keys = sorted({prompt_key(t) for t in texts})
        assert [g.key for g in selection.held_out] == keys[:groups]
    assert sorted(training + [i for g in selection.held_out for i in g.payloads]) == list(range(len(texts)))
    shuffled = texts[:]
    order.shuffle(shuffled)
    assert {normalize(shuffled[i]) for i in choose(shuffled, policy)} == {normalize(p) for p in selection.prompts()}
