"""One synth of the whole app (bundling skipped), shared by every infrastructure test as ``synth``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from distill_cli.offline.synthesis import SynthesizedApp
from stacks.app_builder import SKIP_BUNDLING
from stacks.config import PipelineConfig, from_context


def flatten(value: Any) -> str:
    """An Fn::Join of strings and references as one string; references become <Logical.Attr> / <Ref>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(part) for part in parts)
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::ImportValue" in value:
        return f"<import:{flatten(value['Fn::ImportValue'])}>"
    if "Fn::Select" in value:
        index, (source) = value["Fn::Select"]
        if "Fn::Split" in source:
            separator, text = source["Fn::Split"]
            return f"<{flatten(text)}.split({separator!r})[{index}]>"
    raise AssertionError(f"unexpected intrinsic {value}")


def acknowledged_rules(outdir: Path) -> dict[str, str]:
    """The acknowledgments written into a cloud assembly: rule (with its resource) -> reason."""
    return {
        rule.split("::", 1)[1]: reason
        for path in outdir.glob("*.metadata.json")
        for entries in json.loads(path.read_text()).values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Synth:
    config: PipelineConfig
    data: Template
    pipeline: Template
    data_json: dict[str, Any]
    pipeline_json: dict[str, Any]
    outdir: Path  # the cloud assembly: validation report, metadata
    flatten = staticmethod(flatten)

    def resources(self, type_: str, stack: str = "pipeline") -> dict[str, dict[str, Any]]:
        body = self.pipeline_json if stack == "pipeline" else self.data_json
        return {key: value for key, value in body["Resources"].items() if value["Type"] == type_}

    @property
    def definition(self) -> dict[str, Any]:
        (machine,) = self.resources("AWS::StepFunctions::StateMachine").values()
        return json.loads(flatten(machine["Properties"]["DefinitionString"]))

    def statements(self, role_prefix: str = "") -> list[dict[str, Any]]:
        """Identity-policy statements (both stacks) of the roles whose logical id starts with ``role_prefix``;
        Resource and Condition values are flattened to strings."""
        found = []
        for body in (self.data_json, self.pipeline_json):
            for resource in body["Resources"].values():
                if resource["Type"] != "AWS::IAM::Policy":
                    continue
                roles = [ref["Ref"] for ref in resource["Properties"]["Roles"]]
                if any(role.startswith(role_prefix) for role in roles):
                    found += [_flat_statement(s) for s in resource["Properties"]["PolicyDocument"]["Statement"]]
        return found

    def allowed(self, role_prefix: str, action: str) -> set[str]:
        """Resources (flattened) the role may use ``action`` on."""
        return {
            resource
            for statement in self.statements(role_prefix)
            if action in statement["Action"]
            for resource in statement["Resource"]
        }


def _flat_statement(statement: dict[str, Any]) -> dict[str, Any]:
    flat = dict(statement)
    flat["Action"] = as_list(statement["Action"])
    flat["Resource"] = [flatten(r) for r in as_list(statement["Resource"])]
    if "Condition" in statement:
        flat["Condition"] = deep_flatten(statement["Condition"])
    return flat


def deep_flatten(value: Any) -> Any:
    """Like :func:`flatten`, inside any JSON structure."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            return flatten(value)
        return {key: deep_flatten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [deep_flatten(item) for item in value]
    return value


@pytest.fixture(scope="session")
def synth(synthesized: SynthesizedApp) -> Synth:
    """The suite's one default synth (tests/conftest.py), as the assertions library reads it."""
    assert synthesized.context == SKIP_BUNDLING and synthesized.app_context is not None
    data_json = dict(synthesized.templates[synthesized.data_stack])
    pipeline_json = dict(synthesized.templates[synthesized.pipeline_stack])
    return Synth(from_context(synthesized.app_context), Template.from_json(data_json),
                 Template.from_json(pipeline_json), data_json, pipeline_json, Path(synthesized.outdir))  # fmt: skip
