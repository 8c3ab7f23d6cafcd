"""A small, generic CloudFormation intrinsic-function resolver over the synthesized templates.

It gives every resource a deterministic physical name and ARN (or takes the ones the caller chose), then
evaluates ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` (with the
template's Conditions), ``Fn::ImportValue`` (from the exporting template's Outputs), ``Fn::FindInMap``,
``Fn::Base64``, ``Fn::GetAZs`` and the pseudo parameters -- enough to turn the state machine definition and the
functions' environment into what CloudFormation would have deployed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NO_VALUE = object()


class TemplateError(ValueError):
    """The template uses something this resolver cannot evaluate."""


@dataclass(frozen=True)
class Physical:
    """What ``Ref`` and ``Fn::GetAtt`` of one resource give."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


def _short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n].upper()


def generated_name(stack: str, logical_id: str, max_length: int = 64, lower: bool = False) -> str:
    """A name like CloudFormation generates: stack-logicalid-HASH, cut to fit."""
    suffix = _short_hash(f"{stack}/{logical_id}", 12)
    head = f"{stack}-{logical_id}"[: max_length - len(suffix) - 1]
    name = f"{head}-{suffix}"
    if lower:
        name = re.sub(r"[^a-z0-9-]", "-", name.lower())
    return name


class Resolver:
    """Evaluate intrinsics in the templates of one cloud assembly.

    templates: stack name -> template. physical: (stack, logical id) -> Physical, for the resources the caller
    creates itself (e.g. the bucket it made in moto); every other resource gets a default from its type.
    """

    def __init__(
        self,
        templates: Mapping[str, Mapping[str, Any]],
        *,
        region: str = "us-east-1",
        account: str = "123456789012",
        partition: str = "aws",
        physical: Mapping[tuple[str, str], Physical] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        self.templates = templates
        self.region = region
        self.account = account
        self.partition = partition
        self.physical: dict[tuple[str, str], Physical] = dict(physical or {})
        self.parameters = dict(parameters or {})
        self.referenced: set[tuple[str, str]] = set()  # resources a resolved value pointed at

    # --- public --------------------------------------------------------------------------------------
    def resolve(self, stack: str, value: Any) -> Any:
        result = self._eval(stack, value)
        return None if result is _NO_VALUE else result

    def resources(self, stack: str, type_: str | None = None) -> dict[str, Mapping[str, Any]]:
        found = self.templates[stack].get("Resources", {})
        return {k: v for k, v in found.items() if type_ is None or v.get("Type") == type_}

    def physical_of(self, stack: str, logical_id: str) -> Physical:
        key = (stack, logical_id)
        if key not in self.physical:
            resource = self.templates[stack].get("Resources", {}).get(logical_id)
            if resource is None:
                raise TemplateError(f"{stack}: no resource {logical_id!r}")
            self.physical[key] = self._default_physical(stack, logical_id, resource)
        return self.physical[key]

    def export(self, name: str) -> Any:
        for stack, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                export = output.get("Export")
                if export and self._eval(stack, export.get("Name")) == name:
                    return self._eval(stack, output["Value"])
        raise TemplateError(f"no stack exports {name!r}")

    # --- defaults for resources nobody named ---------------------------------------------------------
    def _arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:"
            f"{resource}"
        )

    def _default_physical(self, stack: str, logical_id: str, resource: Mapping[str, Any]) -> Physical:
        type_ = str(resource.get("Type", ""))
        props = resource.get("Properties", {}) or {}

        def named(prop: str, max_length: int = 64, lower: bool = False) -> str:
            if prop in props:
                given = self._eval(stack, props[prop])
                if isinstance(given, str) and given:
                    return given
            return generated_name(stack, logical_id, max_length, lower)

        if type_ == "AWS::S3::Bucket":
            name = named("BucketName", 63, lower=True)
            return Physical(
                name,
                {
                    "Arn": f"arn:{self.partition}:s3:::{name}",
                    "DomainName": f"{name}.s3.amazonaws.com",
                    "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
                },
            )
        if type_ == "AWS::Lambda::Function":
            name = named("FunctionName")
            return Physical(name, {"Arn": self._arn("lambda", f"function:{name}")})
        if type_ == "AWS::IAM::Role":
            name = named("RoleName")
            return Physical(name, {"Arn": self._arn("iam", f"role/{name}", region=False), "RoleId": _short_hash(name)})
        if type_ == "AWS::SNS::Topic":
            name = named("TopicName", 256)
            arn = self._arn("sns", name)
            return Physical(arn, {"TopicArn": arn, "TopicName": name})
        if type_ == "AWS::SQS::Queue":
            name = named("QueueName", 80)
            return Physical(
                f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}",
                {"Arn": self._arn("sqs", name), "QueueName": name},
            )
        if type_ == "AWS::StepFunctions::StateMachine":
            name = named("StateMachineName", 80)
            arn = self._arn("states", f"stateMachine:{name}")
            return Physical(arn, {"Arn": arn, "Name": name})
        if type_ == "AWS::KMS::Key":
            key = str(_uuid_like(f"{stack}/{logical_id}"))
            return Physical(key, {"Arn": self._arn("kms", f"key/{key}"), "KeyId": key})
        if type_ == "AWS::Logs::LogGroup":
            name = named("LogGroupName", 512)
            return Physical(name, {"Arn": self._arn("logs", f"log-group:{name}:*")})
        if type_ == "AWS::Events::Rule":
            name = named("Name")
            return Physical(name, {"Arn": self._arn("events", f"rule/{name}")})
        service = type_.split("::")[1].lower() if type_.count("::") >= 2 else "unknown"
        name = generated_name(stack, logical_id)
        return Physical(name, {"Arn": self._arn(service, name)})

    # --- evaluation ----------------------------------------------------------------------------------
    def _pseudo(self, stack: str, name: str) -> Any:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": stack,
            "AWS::StackId": self._arn("cloudformation", f"stack/{stack}/{_uuid_like(stack)}"),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        raise TemplateError(f"unknown pseudo parameter {name}")

    def _ref(self, stack: str, name: str) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(stack, name)
        template = self.templates[stack]
        if name in template.get("Parameters", {}):
            if name in self.parameters:
                return self.parameters[name]
            parameter = template["Parameters"][name]
            if "Default" not in parameter:
                raise TemplateError(f"{stack}: parameter {name} has no default and no value")
            return parameter["Default"]
        self.referenced.add((stack, name))
        return self.physical_of(stack, name).ref

    def _get_att(self, stack: str, logical_id: str, attribute: str) -> Any:
        self.referenced.add((stack, logical_id))
        physical = self.physical_of(stack, logical_id)
        if attribute not in physical.attributes:
            raise TemplateError(f"{stack}: no attribute {attribute} of {logical_id} in the offline run")
        return physical.attributes[attribute]

    def _condition(self, stack: str, name: str) -> bool:
        conditions = self.templates[stack].get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"{stack}: unknown condition {name}")
        return bool(self._eval(stack, conditions[name]))

    def _sub(self, stack: str, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
        values = {k: self._eval(stack, v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in values:
                return str(values[expression])
            if "." in expression and not expression.startswith("AWS::"):
                logical, attribute = expression.split(".", 1)
                return str(self._get_att(stack, logical, attribute))
            return str(self._ref(stack, expression))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _eval(self, stack: str, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._eval(stack, v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, args),) = value.items()
            if key == "Ref":
                return self._ref(stack, args)
            if key == "Fn::GetAtt":
                logical, attribute = args.split(".", 1) if isinstance(args, str) else args
                return self._get_att(stack, logical, self._eval(stack, attribute))
            if key == "Fn::Join":
                separator, parts = args
                parts = self._eval(stack, parts)
                return str(separator).join(_text(p) for p in parts)
            if key == "Fn::Sub":
                return self._sub(stack, args)
            if key == "Fn::Select":
                index, items = self._eval(stack, args)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = args
                return str(self._eval(stack, text)).split(separator)
            if key == "Fn::ImportValue":
                return self.export(self._eval(stack, args))
            if key == "Fn::If":
                name, when_true, when_false = args
                return self._eval(stack, when_true if self._condition(stack, name) else when_false)
            if key == "Fn::Equals":
                left, right = self._eval(stack, args)
                return left == right
            if key == "Fn::Not":
                return not self._eval(stack, args)[0]
            if key == "Fn::And":
                return all(self._eval(stack, args))
            if key == "Fn::Or":
                return any(self._eval(stack, args))
            if key == "Condition":
                return self._condition(stack, args)
            if key == "Fn::FindInMap":
                mapping, top, second = (self._eval(stack, a) for a in args[:3])
                return self.templates[stack]["Mappings"][mapping][top][second]
            if key == "Fn::Base64":
                return base64.b64encode(str(self._eval(stack, args)).encode()).decode()
            if key == "Fn::GetAZs":
                return [f"{self.region}{zone}" for zone in "abc"]
            if key.startswith("Fn::"):
                raise TemplateError(f"{stack}: intrinsic {key} is not supported offline")
        out = {}
        for k, v in value.items():
            evaluated = self._eval(stack, v)
            if evaluated is not _NO_VALUE:
                out[k] = evaluated
        return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _uuid_like(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
