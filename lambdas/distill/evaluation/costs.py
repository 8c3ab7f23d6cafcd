"""What 1,000 requests would cost, from the token counts the evaluation measured and the run's price table.

No prices ship with the pipeline (they differ by Region and change): a run gives them in ``evaluation.prices``
as ``{model id: {"inputPer1kTokens": USD, "outputPer1kTokens": USD}}``. A model without a price costs
``"unknown"``, never 0. For 1,000 requests like the measured ones::

    cost = mean input tokens * inputPer1kTokens + mean output tokens * outputPer1kTokens

(a request costs ``tokens / 1000 * price`` on each side; 1,000 of them cost 1,000 times that). Calls without
token counts are left out of the means. A model is looked up by its id, then by the id without a cross-Region
prefix (``us.``, ``eu.``, ``apac.``...) and without a context suffix (``:128k``, ``:300k``), so a price for
``amazon.nova-micro-v1:0`` also prices ``amazon.nova-micro-v1:0:128k``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from distill.evaluation.calls import Call
from distill.evaluation.config import ModelPrice

UNKNOWN = "unknown"
_REGION_PREFIX = re.compile(r"^(?:us|eu|apac|us-gov|ca|jp|au|global)\.")
_CONTEXT_SUFFIX = re.compile(r":\d+k$")


@dataclass(frozen=True)
class Usage:
    calls: int  # calls with token counts
    input_tokens: int
    output_tokens: int

    @property
    def mean_input(self) -> float:
        return self.input_tokens / self.calls if self.calls else 0.0

    @property
    def mean_output(self) -> float:
        return self.output_tokens / self.calls if self.calls else 0.0


def usage(calls: Iterable[Call]) -> Usage:
    known = [c for c in calls if c.input_tokens is not None and c.output_tokens is not None]
    return Usage(len(known), sum(c.input_tokens or 0 for c in known), sum(c.output_tokens or 0 for c in known))


def price_keys(model_id: str) -> list[str]:
    """The ids a price is looked up under, most specific first."""
    keys = [model_id]
    for candidate in (_REGION_PREFIX.sub("", model_id), _CONTEXT_SUFFIX.sub("", model_id)):
        if candidate not in keys:
            keys.append(candidate)
    both = _CONTEXT_SUFFIX.sub("", _REGION_PREFIX.sub("", model_id))
    if both not in keys:
        keys.append(both)
    return keys


def find_price(prices: Mapping[str, ModelPrice], model_id: str) -> ModelPrice | None:
    for key in price_keys(model_id):
        if key in prices:
            return prices[key]
    return None


def per_1k_requests(measured: Usage, price: ModelPrice | None) -> float | str:
    """USD for 1,000 requests like the measured ones, or ``"unknown"`` (no price, or no token counts)."""
    if price is None or measured.calls == 0:
        return UNKNOWN
    return measured.mean_input * price.input_per_1k_tokens + measured.mean_output * price.output_per_1k_tokens


def total(measured: Usage, price: ModelPrice | None) -> float | str:
    """USD for the measured calls themselves (what the evaluation spent on this model), or ``"unknown"``."""
    if price is None:
        return UNKNOWN
    return (
        measured.input_tokens * price.input_per_1k_tokens + measured.output_tokens * price.output_per_1k_tokens
    ) / 1000
