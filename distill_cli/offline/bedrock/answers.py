"""What the simulated models say: the served student's and the teacher's answers, and an LLM judge that scores
them with the rubric of :mod:`distill.evaluation.judge`.

Everything is a function of the prompt (a BLAKE2b hash of it), so the same prompt gets the same answer on every
run. Answers are recognisable: the student's start with :data:`STUDENT_MARK`, the teacher's with
:data:`TEACHER_MARK`; that is how the judge tells which of answer A and answer B is the student's.

**The judge** is recognised by what it is asked to reply: a system prompt requesting the JSON object
``{"scores": {"<metric>": {"A": <1-5>, "B": <1-5>, ...}}}`` (the metric names are read from that example). It
scores the teacher 4 or 5 (by hash) and the student so that, per metric, ``sum(student) / sum(teacher)`` stays
within about ``0.7 / sum(teacher)`` of ``student_quality``: the student's target ``quality * teacher`` is rounded
with the rounding error carried to the next prompt (error diffusion, a threshold varied by hash). That is what
lets a 0.95 student pass a 0.9 gate over as few as 20 prompts, where independent rounding fails about one prompt
set in 40. A prompt judged again (a retry) gets the scores it got the first time. Scores are clipped to 1..5,
so a quality under 0.25 or over 1.0 cannot be reached exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field

STUDENT_MARK = "(distilled model)"
TEACHER_MARK = "(teacher)"
TOKENS_PER_WORD = 1.3

# The JSON shape the rubric asks for: {"scores": {"<metric>": {"A": <1-5>, "B": <1-5>, "reason": ...}, ...}}.
_SHAPE = re.compile(r'\{\s*"scores"\s*:\s*\{')
_METRIC = re.compile(r'"([^"\s]+)"\s*:\s*\{\s*"A"\s*:\s*<1-5>\s*,\s*"B"\s*:\s*<1-5>')
_ANSWER = re.compile(r"\[ANSWER ([AB]) (\S+)\]\n(.*?)\n\[END ANSWER \1 \2\]", re.DOTALL)
_PROMPT = re.compile(r"\[PROMPT (\S+)\]\n(.*?)\n\[END PROMPT \1\]", re.DOTALL)

_SENTENCES = (
    "First, check the order number and the email address on the account.",
    "If the payment was taken twice, the duplicate charge is refunded within five business days.",
    "You can change the delivery address until the parcel has been handed to the carrier.",
    "A replacement is sent as soon as the returned item reaches the warehouse.",
    "Resetting the password from the sign-in page sends a link that stays valid for one hour.",
    "Keep the receipt: it is needed for any claim under the warranty.",
    "The tracking page shows each step of the delivery and the expected date.",
    "Contact support again with the reference number if nothing has changed within two days.",
    "Cancelling before dispatch is free; after dispatch the item can be returned instead.",
    "The subscription can be paused for up to three months from the account settings.",
)


def digest(*parts: str) -> int:
    """A 64-bit hash of the parts (stable across runs and processes)."""
    h = hashlib.blake2b(digest_size=8, person=b"distill-sim")
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    return int.from_bytes(h.digest(), "big")


def unit(*parts: str) -> float:
    """A number in [0, 1) from the hash of the parts."""
    return digest(*parts) / 2**64


def tokens(text: str) -> int:
    """Roughly what a tokenizer counts: 1.3 tokens a word."""
    words = len(text.split())
    return math.ceil(words * TOKENS_PER_WORD) if words else 0


def truncated(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """``text`` cut to ``max_tokens`` (by words, as :func:`tokens` counts them) and whether it was cut."""
    if max_tokens is None or tokens(text) <= max_tokens:
        return text, False
    words = text.split()
    keep = max(1, int(max_tokens / TOKENS_PER_WORD))
    return " ".join(words[:keep]), True


def _topic(prompt: str) -> str:
    return " ".join(prompt.split())[:80].rstrip(" .?!") or "your request"


def _body(prompt: str, who: str, low: int, high: int) -> str:
    rng = random.Random(digest(who, prompt))  # seeded: the same prompt, the same sentences
    return " ".join(rng.sample(_SENTENCES, rng.randint(low, high)))


def student_answer(prompt: str) -> str:
    return f"{STUDENT_MARK} Thanks for reaching out. Here is what to do about: {_topic(prompt)}. " + _body(
        prompt, "student", 2, 4
    )


def teacher_answer(prompt: str) -> str:
    return (
        f"{TEACHER_MARK} Thank you for your message. Here is a complete answer about: {_topic(prompt)}. "
        + _body(prompt, "teacher", 4, 7)
        + " I hope this helps; tell me if anything is unclear."
    )


def latency(base_ms: int, *parts: str) -> int:
    """``base_ms`` +-15%, by hash: latencies vary from prompt to prompt, their median stays near ``base_ms``."""
    return max(1, round(base_ms * (0.85 + 0.3 * unit("latency", *parts))))


def rubric_metrics(system: str) -> tuple[str, ...]:
    """The metric names when ``system`` asks for the judge's JSON scores; empty otherwise."""
    match = _SHAPE.search(system)
    if match is None:
        return ()
    return tuple(dict.fromkeys(_METRIC.findall(system[match.start() :])))


@dataclass
class Judge:
    """The judge's memory: the rounding error carried per metric, and what each prompt was given."""

    carry: dict[str, float] = field(default_factory=dict)
    scored: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def reply(self, system: str, user: str, quality: float) -> str:
        """The JSON judgment of the two answers in ``user``, for the metrics ``system`` asks for."""
        metrics = rubric_metrics(system)
        answers = {label: text for label, _, text in _ANSWER.findall(user)}
        found = _PROMPT.search(user)
        prompt = found.group(2) if found else user
        student = [label for label, text in answers.items() if text.lstrip().startswith(STUDENT_MARK)]
        teacher = [label for label, text in answers.items() if text.lstrip().startswith(TEACHER_MARK)]
        student_label = student[0] if len(student) == 1 and len(teacher) == 1 else None
        scores = {}
        for metric in metrics:
            student_score, teacher_score = self._score(prompt, metric, quality)
            if student_label is None:  # cannot tell them apart: as good as each other
                a = b = teacher_score
            else:
                a, b = (student_score, teacher_score) if student_label == "A" else (teacher_score, student_score)
            scores[metric] = {"A": a, "B": b, "reason": _reason(a, b)}
        return json.dumps({"scores": scores})

    def _score(self, prompt: str, metric: str, quality: float) -> tuple[int, int]:
        key = (prompt, metric)
        if key not in self.scored:
            teacher = 5 if unit("teacher", metric, prompt) < 0.7 else 4
            target = quality * teacher + self.carry.get(metric, 0.0)
            threshold = 0.3 + 0.4 * unit("threshold", metric, prompt)
            student = min(5, max(1, math.floor(target + threshold)))
            self.carry[metric] = max(-1.0, min(1.0, target - student))
            self.scored[key] = (student, teacher)
        return self.scored[key]


def _reason(a: int, b: int) -> str:
    if a == b:
        return "Both answers are equally good on this metric."
    better, worse = ("A", "B") if a > b else ("B", "A")
    return f"Answer {better} is more accurate and thorough than answer {worse}."


MALFORMED_REPLY = (
    "Looking at both answers, I would say answer A is slightly better on correctness, while answer B covers "
    "more of the request. Overall they are close."
)
