"""ARNs of the Bedrock resources the pipeline's policies name (partition, region, account as tokens)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from constructs import Construct

# Cross-region inference profiles are named "<geography>.<model id>".
_PROFILE_GEOGRAPHIES = ("us.", "eu.", "apac.", "ca.", "jp.", "au.", "us-gov.", "global.")


def bedrock_arn(scope: Construct, resource: str, name: str = "*", *, account: str | None = None,
                region: str | None = None) -> str:  # fmt: skip
    return Stack.of(scope).format_arn(
        service="bedrock",
        resource=resource,
        resource_name=name,
        account=account,
        region=region,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def is_inference_profile(model_id: str) -> bool:
    return model_id.startswith(_PROFILE_GEOGRAPHIES)


def model_arns(scope: Construct, model_id: str) -> list[str]:
    """What a call naming ``model_id`` is authorized against: the foundation model; for a cross-Region inference
    profile, the profile and its base model in any Region (it routes to several)."""
    base = model_id.split(".", 1)[1] if is_inference_profile(model_id) else None
    if base is None:
        return [bedrock_arn(scope, "foundation-model", model_id, account="")]
    # A profile routes to the base model in any region of its geography.
    return [
        bedrock_arn(scope, "inference-profile", model_id),
        bedrock_arn(scope, "foundation-model", base, account="", region="*"),
    ]
