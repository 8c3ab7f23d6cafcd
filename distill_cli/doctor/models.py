"""Are the teacher and the student offered in this Region, and for how long: bedrock GetFoundationModel and its
``modelLifecycle`` (status ACTIVE | LEGACY; ``legacyTime`` and ``endOfLifeTime`` in botocore >= 1.42.59).

A cross-Region inference profile (``us.amazon.nova-pro-v1:0``) is not a foundation model: its base model
(``amazon.nova-pro-v1:0``) is checked in this Region, and the row says so. A student's customization id
(``amazon.nova-micro-v1:0:128k``, the id the Amazon Nova user guide gives for customization and the job's
``baseModelIdentifier``) is itself a foundation model id (ListFoundationModels lists it, provisioned-only); if Bedrock
does not know it, its base model (``amazon.nova-micro-v1:0``) is looked up so the row can tell "not in this Region"
from "this variant is not listed".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from distill_cli.deployed import aws_error
from distill_cli.doctor.plan import RunPlan
from distill_cli.doctor.report import Check, could_not_check, fail, ok, warn
from distill_cli.offline.bedrock.contracts import PROFILE_PREFIXES

_NOT_OFFERED = {"ResourceNotFoundException", "ValidationException"}
LOOKUP_FIX = "give the person running doctor bedrock:GetFoundationModel"


def profile_base(model_id: str) -> str | None:
    """The base model of a cross-Region inference profile id, or None for anything else."""
    return model_id.split(".", 1)[1] if model_id.startswith(PROFILE_PREFIXES) else None


def customization_base(model_id: str) -> str | None:
    """``amazon.nova-micro-v1:0:128k`` -> ``amazon.nova-micro-v1:0`` (a third ``:`` part names the variant)."""
    parts = model_id.split(":")
    return ":".join(parts[:2]) if len(parts) == 3 else None


def _day(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value)


def lifecycle_check(label: str, shown: str, details: Mapping[str, Any], now: datetime, fix: str) -> Check:
    """ACTIVE -> ok; LEGACY -> warning with its dates; past its end of life -> failure."""
    lifecycle = details.get("modelLifecycle") or {}
    status = str(lifecycle.get("status") or "status not given")
    end, legacy = lifecycle.get("endOfLifeTime"), lifecycle.get("legacyTime")
    if isinstance(end, datetime) and end <= now:
        return fail(label, f"{shown} reached its end of life on {_day(end)} ({status})", fix)
    if status == "LEGACY":
        since = f" since {_day(legacy)}" if legacy else ""
        until = f"; end of life {_day(end)} ({(end - now).days} days left)" if isinstance(end, datetime) else \
            "; no end-of-life date given"
        return warn(label, f"{shown} is LEGACY{since}{until}", f"move to an ACTIVE model before then: {fix}")
    later = f"; LEGACY from {_day(legacy)}" if isinstance(legacy, datetime) and legacy > now else ""
    return ok(label, f"{shown}: {status}{later}")


def _lookup(client: Any, model_id: str) -> tuple[dict[str, Any] | None, str, str]:
    """(modelDetails or None, error code, error text)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return client.get_foundation_model(modelIdentifier=model_id).get("modelDetails") or {}, "", ""
    except ClientError as error:
        return None, str(error.response.get("Error", {}).get("Code", "")), aws_error(error)
    except BotoCoreError as error:
        return None, "error", aws_error(error)


def teacher_check(client: Any, model_id: str, region: str, now: datetime) -> Check:
    label, base = "model: teacher", profile_base(model_id)
    looked_up = base or model_id
    shown = (f"{model_id} is a cross-Region inference profile; its base model {base} in {region}" if base
             else f"{model_id} in {region}")  # fmt: skip
    fix = "choose another teacher (teacherModelId, allowedTeacherModels in cdk.json) and redeploy"
    details, code, error = _lookup(client, looked_up)
    if details is None:
        if code in _NOT_OFFERED:
            return fail(label, f"{looked_up} is not offered in {region} ({error})", fix)
        return could_not_check(label, looked_up, error, LOOKUP_FIX)
    return lifecycle_check(label, shown, details, now, fix)


def student_check(client: Any, model_id: str, region: str, now: datetime) -> Check:
    label, base = "model: student", customization_base(model_id)
    fix = "choose another student (studentModelId, allowedStudentModels in cdk.json) and redeploy"
    details, code, error = _lookup(client, model_id)
    if details is None and code in _NOT_OFFERED and base:
        base_details, base_code, _ = _lookup(client, base)
        if base_details is not None:
            return warn(label, f"Bedrock does not list {model_id} in {region} ({error}), only its base model {base}",
                        f"check that {region} offers distillation into {model_id}, or {fix}")  # fmt: skip
        code = base_code or code
    if details is None:
        if code in _NOT_OFFERED:
            return fail(label, f"{model_id} is not offered in {region} ({error})", fix)
        return could_not_check(label, model_id, error, LOOKUP_FIX)
    supported = details.get("customizationsSupported")
    if supported is not None and "DISTILLATION" not in supported:
        return warn(label, f"{model_id} in {region} lists customizations {', '.join(supported) or 'none'}, "
                    "not DISTILLATION", fix)  # fmt: skip
    shown = f"{model_id} in {region}" + (f" (a customization variant of {base})" if base else "")
    return lifecycle_check(label, shown, details, now, fix)


def check_models(client: Any, plan: RunPlan, now: datetime) -> list[Check]:
    region = plan.account.region
    return [teacher_check(client, plan.teacher, region, now), student_check(client, plan.student, region, now)]
