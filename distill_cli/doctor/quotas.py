"""The Bedrock quotas that decide whether a run can start (Service Quotas, service code ``bedrock``), and whether
on-demand custom model deployment is offered in the Region.

Quotas are found by code, else by name, since names are reworded now and then:
* "(Model customization) Scheduled customization jobs" (L-0406044C): how many customization jobs may be
  scheduled at once; 0 means no run can start its job.
* "Model units no-commitment Provisioned Throughputs across custom models" (L-BE77399C): 0 by default, so
  ``provisionedThroughput`` runs fail (QuotaExceeded) until AWS raises it.
ListServiceQuotas gives applied values but "if the applied quota value is not available for a quota, the quota is
not retrieved" (API reference): a quota it does not return is looked up among the defaults
(ListAWSDefaultServiceQuotas).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from distill_cli.deployed import aws_error
from distill_cli.doctor.report import Check, could_not_check, fail, ok, warn

# "Deploy a custom model for on-demand inference": US East (N. Virginia) and US West (Oregon).
ON_DEMAND_REGIONS = ("us-east-1", "us-west-2")
QUOTAS_FIX = "give the person running doctor servicequotas:ListServiceQuotas (and ListAWSDefaultServiceQuotas)"


@dataclass(frozen=True)
class QuotaSpec:
    label: str
    code: str
    name: str  # as Service Quotas named it when this was written
    words: tuple[tuple[str, ...], ...]  # a name matches when it holds one phrase of every group


JOBS = QuotaSpec("quota: customization jobs", "L-0406044C", "(Model customization) Scheduled customization jobs",
                 (("customization job",), ("scheduled", "concurrent", "in progress")))  # fmt: skip
THROUGHPUT = QuotaSpec("quota: provisioned throughput", "L-BE77399C",
                       "Model units no-commitment Provisioned Throughputs across custom models",
                       (("no commitment",), ("provisioned throughput",), ("custom model",)))  # fmt: skip


def _normal(name: str) -> str:
    return re.sub(r"\s+", " ", name.lower().replace("-", " ")).strip()


def find(quotas: Sequence[Mapping[str, Any]], spec: QuotaSpec) -> Mapping[str, Any] | None:
    """The quota with the spec's code, else the first whose name holds a phrase of every word group."""
    by_code = next((q for q in quotas if q.get("QuotaCode") == spec.code), None)
    if by_code is not None:
        return by_code
    for quota in quotas:
        name = _normal(str(quota.get("QuotaName", "")))
        if all(any(_normal(phrase) in name for phrase in group) for group in spec.words):
            return quota
    return None


def _all(client: Any, method: str) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    params: dict[str, Any] = {"ServiceCode": "bedrock"}
    while True:
        page = getattr(client, method)(**params)
        found.extend(page.get("Quotas", []))
        if not page.get("NextToken"):
            return found
        params["NextToken"] = page["NextToken"]


def _value(quota: Mapping[str, Any]) -> float | None:
    value = quota.get("Value")
    return float(value) if isinstance(value, (int, float)) else None


def _increase(spec: QuotaSpec, quota: Mapping[str, Any], region: str, wanted: int) -> str:
    return (f"request a quota increase to at least {wanted}: Service Quotas > Amazon Bedrock > "
            f"\"{quota.get('QuotaName', spec.name)}\" ({quota.get('QuotaCode', spec.code)}) in {region}")  # fmt: skip


def quota_check(spec: QuotaSpec, quota: Mapping[str, Any] | None, default: bool, region: str, *, needed: int,
                required: bool, consequence: str) -> Check:  # fmt: skip
    """``needed``: the value a run needs; ``required``: whether the runs the user plans depend on it (a shortfall
    fails) or only may (a shortfall warns)."""
    if quota is None:
        return warn(spec.label, f"not found: no Bedrock quota named like \"{spec.name}\" ({spec.code}) in {region}",
                    "look it up in the Service Quotas console (Amazon Bedrock)")  # fmt: skip
    value = _value(quota)
    name = f"{quota.get('QuotaName', spec.name)} ({quota.get('QuotaCode', spec.code)})"
    source = " (the default value; your account's applied value was not available)" if default else ""
    if value is None:
        reason = (quota.get("ErrorReason") or {}).get("ErrorMessage", "no value given")
        return warn(spec.label, f"{name}: Service Quotas gives no value ({reason})", "check it in the console")
    if value >= needed:
        return ok(spec.label, f"{name}: {value:g}{source}")
    detail = f"{name} is {value:g}{source}: {consequence}"
    fix = _increase(spec, quota, region, needed)
    return fail(spec.label, detail, fix) if required else warn(spec.label, detail, fix)


def queue_note(max_concurrent_jobs: int | str | None, jobs_quota: float | None) -> str:
    """What the job queue (maxConcurrentJobs) makes of the jobs quota, for the quota's row; "" when unknown."""
    if max_concurrent_jobs is None:
        return ""
    if max_concurrent_jobs != "auto":
        over = jobs_quota is not None and int(max_concurrent_jobs) > jobs_quota
        return (f"; maxConcurrentJobs {max_concurrent_jobs}" + (" is above the quota: runs over it back off and "
                "queue again" if over else ""))  # fmt: skip
    from distill import job_slots  # the queue's own rule, so the doctor cannot drift from it

    limit = job_slots.quota_limit(jobs_quota, None, ["the quota gives no value"], 0).value
    if jobs_quota is None:
        return f"; maxConcurrentJobs auto: the job queue will use {limit} (the quota gives no value)"
    return f"; maxConcurrentJobs auto: the job queue lets {limit} run(s) have a job at once"


def check_quotas(client: Any, region: str, *, provision: bool, model_units: int,
                 max_concurrent_jobs: int | str | None = None) -> list[Check]:  # fmt: skip
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        applied = _all(client, "list_service_quotas")
    except (ClientError, BotoCoreError) as error:
        return [could_not_check(spec.label, "Bedrock's quotas", aws_error(error), QUOTAS_FIX)
                for spec in (JOBS, THROUGHPUT)]  # fmt: skip
    found = {spec: find(applied, spec) for spec in (JOBS, THROUGHPUT)}
    defaults: list[Mapping[str, Any]] = []
    if any(quota is None for quota in found.values()):
        try:
            defaults = _all(client, "list_aws_default_service_quotas")
        except (ClientError, BotoCoreError):
            defaults = []  # the quota then counts as not found
    rows = []
    for spec, consequence, needed, required in (
        (JOBS, "no run can start its distillation job", 1, True),
        (THROUGHPUT, f"a run with provisionedThroughput of {model_units} model unit(s) fails with QuotaExceeded",
         model_units, provision),
    ):  # fmt: skip
        quota = found[spec] or find(defaults, spec)
        row = quota_check(spec, quota, found[spec] is None and quota is not None, region, needed=needed,
                          required=required, consequence=consequence)  # fmt: skip
        if spec is JOBS:
            row = replace(row, detail=row.detail + queue_note(max_concurrent_jobs, _value(quota) if quota else None))
        rows.append(row)
    return rows


def on_demand_check(region: str, *, required: bool) -> Check:
    label = "on-demand deployment"
    if region in ON_DEMAND_REGIONS:
        return ok(label, f"offered in {region} (documented Regions: {', '.join(ON_DEMAND_REGIONS)})")
    detail = (f"on-demand custom model deployment is documented only in {', '.join(ON_DEMAND_REGIONS)}, "
              f"not {region}: onDemandDeployment runs would fail to deploy")  # fmt: skip
    fix = "serve with provisionedThroughput instead, or deploy the pipeline in us-east-1 or us-west-2"
    return fail(label, detail, fix) if required else warn(label, detail, fix)
