"""The one place boto3 clients are made.

Handlers and the CLI ask :func:`client` for a client by service name. Tests and the offline runner replace
the factory (:func:`use_factory`) to hand out moto-backed or simulated clients, so no handler needs a
parameter for it and no boto3 set-up is written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ClientFactory = Callable[[str], Any]

_clients: dict[str, Any] = {}
_factory: ClientFactory | None = None


def _boto3_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Standard retries with a few attempts: the state machine retries further with its own backoff.
    config = Config(retries={"max_attempts": 4, "mode": "standard"}, user_agent_extra="distill-pipeline")
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def client(service: str) -> Any:
    """A cached client for ``service`` (clients are reused across warm Lambda invocations)."""
    if service not in _clients:
        _clients[service] = (_factory or _boto3_client)(service)
    return _clients[service]


def use_factory(factory: ClientFactory | None) -> None:
    """Route every later :func:`client` call through ``factory`` (None restores boto3)."""
    global _factory
    _factory = factory
    _clients.clear()


@contextmanager
def clients_from(factory: ClientFactory) -> Iterator[None]:
    previous = _factory
    use_factory(factory)
    try:
        yield
    finally:
        use_factory(previous)
