"""Deterministic {prompt, completion} datasets for the benchmark (about 6 KB a record)."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = (  # noqa: SIM905 - easier to read as one sentence
    "order invoice refund shipping account password login billing subscription plan upgrade device "
    "warranty replacement delivery tracking address payment card declined error message screen "
    "settings update version install support ticket customer agent the a to of and in for on with "
    "is it that this please thanks"
).split()
# Support text is mostly ASCII; some records carry names, quotes and dashes from outside it.
NON_ASCII = ["résumé", "café", "naïve", "—", "“quoted”", "Zoë", "Müller", "São Paulo", "€20", "🙂"]


def paragraph(rng: random.Random, size: int, non_ascii: bool) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(NON_ASCII) if non_ascii and rng.random() < 0.1 else rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words).capitalize() + "."


def write_dataset(path: Path, records: int, non_ascii_share: float = 0.2, seed: int = 7) -> Path:
    """``records`` lines; a ``non_ascii_share`` of them contain non-ASCII text."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        for number in range(records):
            non_ascii = rng.random() < non_ascii_share
            prompt = f"Ticket {number}: " + paragraph(rng, rng.randint(1500, 2500), non_ascii)
            completion = paragraph(rng, rng.randint(3000, 4500), non_ascii)
            file.write(json.dumps({"prompt": prompt, "completion": completion}, ensure_ascii=False) + "\n")
    return path
