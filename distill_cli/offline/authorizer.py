"""IAM, enforced offline: every AWS call a function makes is authorized against that function's role policies
from the synthesized template (and the resource's own policy: bucket, topic, queue, KMS key), with the table in
:mod:`distill_cli.access`. A denied call fails with the error AWS returns, naming the missing permission.

Who is calling: inside a handler, the function's role (an assumed-role session named after the function); a
service acting with a role it was given (Bedrock and its service role); otherwise the operator running the test
or the CLI, who may do anything (an administrator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from distill_cli.access import (
    Principal,
    Request,
    Requirement,
    Where,
    denied_error_code,
    denied_message,
    evaluate,
    evaluate_resource_policy,
    required,
)
from distill_cli.access.policy import Decision
from distill_cli.offline.api_model import client_error
from distill_cli.offline.bedrock.contracts import Need
from distill_cli.offline.resources import Deployment, FunctionDef


# The key policy a key gets when nobody wrote one: the account may use it through IAM policies
# (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html). An imported key
# (kmsKeyArn) is assumed to have exactly this unless the test or the operator says otherwise.
def default_key_policy(account: str, partition: str = "aws") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}  # fmt: skip


@dataclass(frozen=True)
class Grant:
    """A call that was allowed, and the statements that allowed it (for the strictness tests)."""

    principal: str  # the role ARN (or the service) that made it
    service: str
    operation: str
    requirement: Requirement
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Denial:
    """A call AWS would refuse: who, which permission, and AWS's message."""

    principal: str
    service: str
    operation: str
    action: str
    resource: str
    message: str


class Authorizer:
    def __init__(self, deployment: Deployment, where: Where,
                 key_policies: Mapping[str, Mapping[str, Any]] | None = None) -> None:  # fmt: skip
        self.deployment = deployment
        self.where = where
        self.key_policies = dict(key_policies or {})
        self.denials: list[Denial] = []
        self.grants: list[Grant] = []
        self._callers: list[Principal] = []
        self.bedrock_tags: Mapping[str, Mapping[str, str]] = {}  # resource ARN -> tags (set by the world)

    # --- who is calling ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def acting_as(self, function: FunctionDef) -> Iterator[None]:
        with self.as_role(function.role_arn, function.name):
            yield

    @contextlib.contextmanager
    def as_role(self, role_arn: str, session: str) -> Iterator[None]:
        self._callers.append(Principal(arn=role_arn, session_name=session))
        try:
            yield
        finally:
            self._callers.pop()

    @property
    def caller(self) -> Principal | None:
        return self._callers[-1] if self._callers else None

    # --- calls -------------------------------------------------------------------------------------------------
    def check(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Raise the ClientError AWS answers when the current caller may not make this call."""
        caller = self.caller
        if caller is None:
            return  # the operator
        where = Where(region=self.where.region, account=self.where.account, partition=self.where.partition,
                      bucket_keys=self.where.bucket_keys, resource_tags=self.bedrock_tags,
                      kms_aliases=self.where.kms_aliases, profile_regions=self.where.profile_regions,
                      topic_keys=self.where.topic_keys)  # fmt: skip
        for requirement in required(service, operation, params, where):
            decision = self.require(caller, requirement, operation, service)
            if not decision.allowed:
                raise self._deny(caller, service, operation, requirement, decision)

    def require(self, principal: Principal, requirement: Requirement, why: str, service: str = "(service)"
                ) -> Decision:  # fmt: skip
        """Decide, and keep what was allowed (with the statements that allowed it) for the strictness tests."""
        decision = self.decide(principal, requirement)
        if decision.allowed:
            self.grants.append(Grant(principal.arn or principal.service or "", service, why, requirement,
                                     decision.matched))  # fmt: skip
        return decision

    def decide(self, principal: Principal, requirement: Requirement) -> Decision:
        resource_policy, is_key = self._resource_policy(requirement.resource)
        role = self.deployment.roles.get(principal.arn or "")
        identity = role.policies if role else ()
        if is_key:
            return evaluate(identity, requirement.request(principal), resource_policy, kms_key_policy=True)
        return evaluate(identity, requirement.request(principal), resource_policy)

    def _deny(self, caller: Principal, service: str, operation: str, requirement: Requirement,
              decision: Decision) -> ClientError:  # fmt: skip
        code, status = denied_error_code(service)
        message = denied_message(caller.display_arn, requirement, decision)
        self.denials.append(Denial(caller.display_arn, service, operation, requirement.action, requirement.resource,
                                   message))  # fmt: skip
        return client_error(code, message, operation, status)

    def _resource_policy(self, resource: str) -> tuple[Mapping[str, Any] | None, bool]:
        if resource.startswith("arn:aws:s3:::"):
            bucket = self.deployment.buckets.get(resource.removeprefix("arn:aws:s3:::").split("/", 1)[0])
            return (bucket.policy if bucket else None), False
        if ":kms:" in resource and ":key/" in resource:
            if resource in self.key_policies:
                return self.key_policies[resource], True
            written = self.deployment.keys.get(resource)
            return (written or default_key_policy(self.where.account, self.where.partition)), True
        if resource in self.deployment.topics:
            return self.deployment.topics[resource].policy, False
        if resource in self.deployment.queues:
            return self.deployment.queues[resource].policy, False
        return None, False

    # --- services acting for someone ---------------------------------------------------------------------------
    def role_problem(self, role_arn: str, needs: Sequence[Need], trust_context: Mapping[str, str],
                     service: str = "bedrock.amazonaws.com") -> str | None:  # fmt: skip
        """What keeps ``service`` from doing ``needs`` with ``role_arn`` (its trust, then each need)."""
        problem = self.trust_problem(role_arn, service, trust_context)
        if problem:
            return problem
        session = Principal(arn=role_arn, session_name=service.split(".")[0])
        return self._first_missing(session, needs)

    def trust_problem(self, role_arn: str, service: str, context: Mapping[str, str] | None = None) -> str | None:
        """Whether ``service`` may assume ``role_arn`` (its trust policy, the request context it sends)."""
        role = self.deployment.roles.get(role_arn)
        if role is None:
            return f"the role {role_arn} does not exist"
        assume = Request("sts:AssumeRole", role_arn, dict(context or {}), Principal.for_service(service))
        decision = evaluate_resource_policy(role.trust, assume)
        if not decision.allowed:
            return f"the trust policy of {role_arn} does not let {service} sts:AssumeRole ({decision.reason})"
        self.grants.append(Grant(role_arn, "(trust)", service, Requirement("sts:AssumeRole", role_arn, {}),
                                 decision.matched))  # fmt: skip
        return None

    def caller_problem(self, needs: Sequence[Need]) -> str | None:
        caller = self.caller
        return None if caller is None else self._first_missing(caller, needs)

    def _first_missing(self, principal: Principal, needs: Sequence[Need]) -> str | None:
        base = {"aws:SecureTransport": "true", "aws:RequestedRegion": self.where.region}
        for need in needs:
            requirement = Requirement(need.action, need.resource, {**base, **need.context})
            decision = self.require(principal, requirement, need.why)
            if not decision.allowed:
                return f"{principal.display_arn} may not {need.action} on {need.resource} ({need.why}): {decision.reason}"
        return None

    def service_may(self, service: str, action: str, resource: str, context: Mapping[str, str]) -> str | None:
        """Whether a service principal (events, cloudwatch) may act on a resource by its resource policy alone."""
        policy, _ = self._resource_policy(resource)
        if policy is None:
            return f"{resource} has no resource policy that admits {service}"
        request = Request(action, resource, dict(context), Principal.for_service(service))
        decision = evaluate_resource_policy(policy, request)
        return None if decision.allowed else f"{service} may not {action} on {resource}: {decision.reason}"

    # --- boto3 clients ------------------------------------------------------------------------------------------
    def hook(self, client: Any, register: Any = None) -> Any:
        """Authorize every call ``client`` makes (paginators and s3transfer included) before it is sent.
        ``register(client, event, handler)`` registers the handler (a world's client lease); else the client's
        own events do."""
        service = client.meta.service_model.service_name

        def before(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.check(service, model.name, params)

        if register is None:
            client.meta.events.register("before-parameter-build", before)
        else:
            register(client, "before-parameter-build", before)
        return client

    def missing_object_error(self, operation: str, bucket: str, key: str) -> ClientError | None:
        """S3 answers a missing key with 403, not 404, when the caller may not s3:ListBucket: "If you don't have
        the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403" (GetObject/HeadObject API
        reference). Which s3:prefix the implicit check uses is not documented: offline it uses none, so only an
        unconditional ListBucket grant turns the 403 into a 404 (the stricter reading)."""
        caller = self.caller
        if caller is None:
            return None
        listing = Requirement("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"aws:SecureTransport": "true"})
        if self.decide(caller, listing).allowed:
            return None
        if operation == "HeadObject":
            return client_error("403", "Forbidden", operation, 403)
        return client_error("AccessDenied", "Access Denied", operation, 403)
