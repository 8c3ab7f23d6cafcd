"""moto rebuilds a service's URL table on every request it intercepts (its own "TODO: cache this part" in
moto/core/botocore_stubber.py), and for S3 it even reloads ``moto.s3.urls`` each time: about a third of an
offline S3 call. The table depends only on the backend's class and on the environment variables moto reads when it
builds it, so it is kept per (class, those variables); a change to one of them builds it afresh."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

# What moto's URL tables read (moto/settings.py): custom S3 endpoints and the ISO-region domains.
_URL_SETTINGS = ("MOTO_S3_CUSTOM_ENDPOINTS", "MOTO_ENABLE_ISO_REGIONS")
_TABLES: dict[tuple[Any, ...], dict[str, Callable[..., Any]]] = {}


def memoize_moto_urls() -> None:
    """Install the memo on moto's BaseBackend (once per process; idempotent)."""
    from moto.core.base_backend import BaseBackend

    build = BaseBackend.urls.fget
    if build is None or getattr(build, "memoized", False):
        return

    def urls(backend: Any) -> dict[str, Callable[..., Any]]:
        key = (type(backend), *(os.environ.get(name) for name in _URL_SETTINGS))
        table = _TABLES.get(key)
        if table is None:
            table = _TABLES[key] = build(backend)
        return table

    urls.memoized = True  # type: ignore[attr-defined]
    urls.__wrapped__ = build  # type: ignore[attr-defined]
    BaseBackend.urls = property(urls)  # type: ignore[method-assign,assignment]
