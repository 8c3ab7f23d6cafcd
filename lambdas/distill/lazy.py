"""Names a package exports but loads only on first use (PEP 562): keeps a handler's cold start light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, modules: Mapping[str, tuple[str, ...]], namespace: dict[str, Any]
                 ) -> Callable[[str], Any]:  # fmt: skip
    """The module ``__getattr__`` of ``package``: a name listed under a submodule is imported from it when first
    asked for, then kept in ``namespace`` (the package's globals) so the next lookup is a plain one."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
