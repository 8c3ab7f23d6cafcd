"""Pages for the simulated Bedrock's List calls of serving (ListProvisionedModelThroughputs,
ListCustomModelDeployments), as the real API gives them: at most ``maxResults`` summaries (1-1000) and a
``nextToken`` while more follow. The API reference does not say how many a page holds without maxResults;
``list_page_size`` (None: all on one page, as before) lets a test make pages small.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

_TOKEN_PREFIX = "page-"


class PagingMixin:
    """Put before ServingMixin in the bases: it pages what ServingMixin lists."""

    list_page_size: int | None = None

    def list_provisioned_model_throughputs(self, **params: Any) -> dict[str, Any]:
        parent = cast(Any, super()).list_provisioned_model_throughputs
        return self._paged(parent, "provisionedModelSummaries", "ListProvisionedModelThroughputs", params)

    def list_custom_model_deployments(self, **params: Any) -> dict[str, Any]:
        parent = cast(Any, super()).list_custom_model_deployments
        return self._paged(parent, "modelDeploymentSummaries", "ListCustomModelDeployments", params)

    def _paged(self, parent: Callable[..., dict[str, Any]], key: str, operation: str,
               params: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        s: Any = self
        answer = parent(**params)  # records and checks the call (maxResults 1-1000, nextToken's pattern)
        token = params.get("nextToken")
        start = 0
        if token is not None:
            number = str(token).removeprefix(_TOKEN_PREFIX)
            if not str(token).startswith(_TOKEN_PREFIX) or not number.isdigit():
                raise s._error("ValidationException", f"Invalid pagination token {token}", operation)
            start = int(number)
        size = min(int(params.get("maxResults") or 1000), self.list_page_size or 1000)
        everything = answer.get(key, [])
        page = {**answer, key: everything[start : start + size]}
        page.pop("nextToken", None)
        if start + size < len(everything):
            page["nextToken"] = f"{_TOKEN_PREFIX}{start + size}"
        return page
