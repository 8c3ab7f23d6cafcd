"""boto3 clients shared by the offline worlds of one process.

Making a client costs about 7 ms (endpoint rules, a copy of the session's event handlers, the client class), and
a world needs six or more: a hundred worlds spent most of a second a test on them. A world borrows clients for
its lifetime and registers its own handlers (authorization, S3 events, SNS recording) through its lease; giving
them back unregisters exactly those handlers, so the next world gets the clients as boto3 made them. Two worlds
open at once never share a client.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

Handler = Callable[..., Any]


_SESSION: list[Any] = []


def shared_session() -> Any:
    """One boto3 session per process for the offline world (and the tests' moto accounts): building a session
    loads the service models and endpoint rules again. The credentials and region are the fake ones in the
    environment (the offline world and tests/conftest.py set them)."""
    import boto3

    if not _SESSION:
        _SESSION.append(boto3.session.Session(region_name="us-east-1"))  # the offline world's REGION
    return _SESSION[0]


class ClientPool:
    def __init__(self, make: Callable[[str], Any]) -> None:
        self._make = make
        self._free: dict[str, list[Any]] = defaultdict(list)
        self._lock = threading.Lock()
        self.made = 0

    def lease(self) -> Lease:
        return Lease(self)

    def _take(self, service: str) -> Any:
        with self._lock:
            if self._free[service]:
                return self._free[service].pop()
            self.made += 1
        return self._make(service)

    def _give_back(self, service: str, client: Any) -> None:
        with self._lock:
            self._free[service].append(client)


class Lease:
    """The clients one world holds, and the handlers it registered on them."""

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool
        self._held: list[tuple[str, Any]] = []
        self._registered: list[tuple[Any, str, Handler]] = []

    def client(self, service: str) -> Any:
        client = self._pool._take(service)
        self._held.append((service, client))
        return client

    def on(self, client: Any, event: str, handler: Handler) -> None:
        client.meta.events.register(event, handler)
        self._registered.append((client, event, handler))

    def close(self) -> None:
        for client, event, handler in reversed(self._registered):
            client.meta.events.unregister(event, handler)
        self._registered.clear()
        for service, client in self._held:
            self._pool._give_back(service, client)
        self._held.clear()
