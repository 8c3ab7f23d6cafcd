"""EventBridge, as far as the pipeline uses it: events as AWS services send them, the templates' rules, and
delivery to Lambda targets the way EventBridge does it.

* S3 sends "Object Created" for every object created in a bucket with EventBridge enabled; the key in the
  event is URL-encoded as in S3 event notifications (``red flower.jpg`` -> ``red+flower.jpg``:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
* EventBridge may invoke a function only if the function's resource policy admits ``events.amazonaws.com``
  for that rule; a delivery it cannot make is retried per the target's RetryPolicy and then goes to the
  target's dead-letter queue (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
* A delivered event is an *asynchronous* invocation: what happens when the function fails is Lambda's
  business (distill_cli.offline.lambda_runner), not the rule's dead-letter queue.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from distill_cli.offline.lambda_runner import AsyncOutcome, LambdaRunner
from distill_cli.offline.resources import Deployment, RuleDef, TargetDef


@dataclass
class Delivery:
    """One rule target an event reached (or could not reach)."""

    rule: RuleDef
    target: TargetDef
    module: str
    outcome: AsyncOutcome | None = None  # None: EventBridge could not invoke the function
    undelivered: str = ""  # why, when EventBridge could not deliver (the event went to the rule's DLQ)

    @property
    def rule_name(self) -> str:
        return self.rule.short_name

    @property
    def settled(self) -> bool:
        if self.outcome is None:
            return True
        o = self.outcome
        return o.lost or bool(o.sent_to) or any(a.ok for a in o.attempts)

    @property
    def ok(self) -> bool:
        return self.outcome is not None and any(a.ok for a in self.outcome.attempts)

    @property
    def result(self) -> Any:
        if self.outcome is None:
            return None
        return next((a.result for a in self.outcome.attempts if a.ok), None)

    @property
    def error(self) -> str:
        if self.undelivered:
            return self.undelivered
        if self.outcome is None or self.ok or not self.outcome.attempts:
            return ""
        last = self.outcome.attempts[-1]
        return f"{last.error_type or 'Lambda.' + last.injected_failure}: {last.error_message}"


def event_envelope(source: str, detail_type: str, resources: list[str], detail: dict[str, Any], *, account: str,
                   region: str, at: float) -> dict[str, Any]:  # fmt: skip
    """An EventBridge event as AWS services deliver them."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def encoded_key(key: str) -> str:
    """An object key as S3 writes it into an event: URL-encoded, a space as '+'."""
    return urllib.parse.quote_plus(key, safe="/")


def object_created(bucket: str, key: str, head: Mapping[str, Any], reason: str, *, account: str, region: str,
                   at: float) -> dict[str, Any]:  # fmt: skip
    obj: dict[str, Any] = {"key": encoded_key(key), "size": head["ContentLength"], "etag": head["ETag"].strip('"'),
                           "sequencer": f"{int(at * 1000):016X}"}  # fmt: skip
    if head.get("VersionId") and head["VersionId"] != "null":
        obj["version-id"] = head["VersionId"]
    detail = {"version": "0", "bucket": {"name": bucket}, "object": obj, "request-id": uuid.uuid4().hex[:16].upper(),
              "requester": account, "source-ip-address": "127.0.0.1", "reason": reason}  # fmt: skip
    return event_envelope("aws.s3", "Object Created", [f"arn:aws:s3:::{bucket}"], detail, account=account,
                          region=region, at=at)  # fmt: skip


class EventBus:
    """The default event bus with the templates' rules."""

    def __init__(self, deployment: Deployment, runner: LambdaRunner,
                 send_to_queue: Callable[[str, Any, str, str], None]) -> None:  # fmt: skip
        self.deployment = deployment
        self.runner = runner
        self.send_to_queue = send_to_queue  # (queue ARN, body, principal service, source ARN)
        self.deliveries: list[Delivery] = []
        self.log: list[dict[str, Any]] = []  # every event put on the bus

    def put(self, event: Mapping[str, Any]) -> list[Delivery]:
        from moto.events.models import EventPattern

        self.log.append(dict(event))
        made = []
        for rule in self.deployment.rules:
            if rule.pattern is None or not EventPattern.load(json.dumps(rule.pattern)).matches_event(dict(event)):
                continue
            for target in rule.targets:
                made.append(self._deliver(rule, target, event))
        self.deliveries.extend(made)
        return made

    def fire_schedules(self, *, account: str, region: str, at: float) -> list[Delivery]:
        """Every scheduled rule fires once, as EventBridge does when its rate comes round: a "Scheduled Event"
        from aws.events naming the rule ("Creating a rule that runs on a schedule",
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html)."""
        made = []
        for rule in self.deployment.rules:
            if rule.schedule is None:
                continue
            event = event_envelope("aws.events", "Scheduled Event", [rule.arn], {}, account=account, region=region,
                                   at=at)  # fmt: skip
            self.log.append(event)
            made += [self._deliver(rule, target, event) for target in rule.targets]
        self.deliveries.extend(made)
        return made

    def _deliver(self, rule: RuleDef, target: TargetDef, event: Mapping[str, Any]) -> Delivery:
        if ":lambda:" not in target.arn:
            raise NotImplementedError(f"rule {rule.logical_id}: only Lambda targets are delivered offline")
        function = self.runner.function(target.arn)
        delivery = Delivery(rule, target, function.module)
        payload = json.loads(target.input) if target.input else dict(event)
        if not self._may_invoke(function.invoke_permissions, rule.arn):
            delivery.undelivered = (f"EventBridge may not invoke {function.name}: no resource policy statement admits "
                                    f"events.amazonaws.com from {rule.arn}")  # fmt: skip
            if target.dead_letter:
                self.send_to_queue(target.dead_letter, payload, "events.amazonaws.com", rule.arn)
            return delivery
        delivery.outcome = self.runner.invoke_async(function.arn, payload)
        return delivery

    @staticmethod
    def _may_invoke(permissions: tuple[Mapping[str, Any], ...], rule_arn: str) -> bool:
        return any(p.get("Action") == "lambda:InvokeFunction" and p.get("Principal") == "events.amazonaws.com"
                   and p.get("SourceArn") in (None, rule_arn) for p in permissions)  # fmt: skip
