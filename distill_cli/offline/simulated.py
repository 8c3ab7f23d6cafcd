"""What every simulated AWS service shares: each call is recorded, checked against the real API model
(patterns and lengths included), authorized against the caller's IAM policies, and may be made to fail.

Errors are botocore ``ClientError``s with the service's own codes, and ``client.exceptions.<Code>`` works as on
a boto3 client, so code under test cannot tell the difference.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from distill_cli.offline.api_model import check_request, client_error, service_model

# "Common Errors" of AWS APIs (e.g. https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html).
COMMON_ERRORS = frozenset({"AccessDeniedException", "IncompleteSignature", "InternalFailure", "InvalidAction",
                           "InvalidClientTokenId", "NotAuthorized", "OptInRequired", "RequestExpired",
                           "ServiceUnavailable", "ThrottlingException", "ValidationError"})  # fmt: skip
# (service, operation, params) -> None, or raise the ClientError AWS would answer (set by the offline world).
Authorizer = Callable[[str, str, Mapping[str, Any]], None]


@cache
def _exceptions(service: str) -> Any:
    from botocore.errorfactory import ClientExceptionsFactory

    return ClientExceptionsFactory().create_client_exceptions(service_model(service))


class SimulatedService:
    service = ""  # the boto3 service name, e.g. "bedrock"

    def __init__(self) -> None:
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.authorizer: Authorizer | None = None
        self._lock = threading.RLock()

    @property
    def exceptions(self) -> Any:
        return _exceptions(self.service)

    # --- test controls ------------------------------------------------------------------------------
    def fail_next(self, operation: str, *codes: str) -> None:
        """Make the next calls of ``operation`` (e.g. 'CreateModelCustomizationJob') raise these codes, one per
        call; an empty code lets that call through (``fail_next(op, "", "ConflictException")``: the second).

        Only errors the operation can return are accepted: those its API model lists, and the common errors
        every AWS API may answer (``COMMON_ERRORS``) -- a fault AWS cannot send proves nothing."""
        model = service_model(self.service)
        if operation not in model.operation_names:
            raise ValueError(f"{self.service} has no operation {operation!r}")
        modeled = {shape.name for shape in model.operation_model(operation).error_shapes}
        for code in codes:
            if code and code not in modeled | COMMON_ERRORS:
                raise ValueError(f"{self.service}.{operation} cannot answer {code!r}; it answers "
                                 f"{sorted(modeled | COMMON_ERRORS)}")  # fmt: skip
        self.faults[operation].extend(codes)

    def calls_of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    # --- plumbing -------------------------------------------------------------------------------------
    def _enter(self, operation: str, params: Mapping[str, Any]) -> None:
        """Record the call; check it as the service would; authorize it; raise a queued fault if there is one."""
        self.calls.append((operation, dict(params)))
        check_request(self.service, operation, params)
        if self.authorizer is not None:
            self.authorizer(self.service, operation, params)
        if self.faults.get(operation):
            code = self.faults[operation].popleft()
            if code:
                raise self._error(code, f"Simulated {code}", operation)

    def _error(self, code: str, message: str, operation: str, status: int = 400) -> ClientError:
        """A ClientError of this service's class for ``code`` (so ``except client.exceptions.X`` catches it)."""
        generic = client_error(code, message, operation, status)
        specific = getattr(self.exceptions, code, None)
        if isinstance(specific, type) and issubclass(specific, ClientError):
            return specific(generic.response, operation)
        return generic
