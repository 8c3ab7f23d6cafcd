"""What Amazon Bedrock does with the permissions it is given, so the offline world can refuse what AWS refuses.

moto enforces no IAM and the simulated Bedrock is ours, so these rules are written down here, each with the page
that states it. ``Need`` is one permission: an action on a resource, with the request context AWS evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Destination Regions of the US cross-Region inference profiles, by the Region the job runs in.
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
_US = ("us-east-1", "us-east-2", "us-west-2")
PROFILE_REGIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "us.amazon.nova-pro-v1:0": {"us-west-1": ("us-east-1", "us-east-2", "us-west-1", "us-west-2")},
    "us.amazon.nova-premier-v1:0": {},
}
PROFILE_PREFIXES = ("us.", "eu.", "apac.", "ca.", "jp.", "au.", "us-gov.", "global.")


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    why: str
    context: Mapping[str, Any] = field(default_factory=dict)


def profile_regions(profile: str, region: str) -> tuple[str, ...]:
    """Every Region a cross-Region inference profile may route to from ``region``."""
    by_source = PROFILE_REGIONS.get(profile)
    if by_source is None:
        return (region,)  # a profile we have no table for: at least its own Region
    return by_source.get(region, _US)


def teacher_needs(teacher: str, region: str, account: str) -> list[Need]:
    """"To use a cross-region inference profile for a teacher model in a Distillation job, your service role must
    have permissions to invoke the inference profile in an AWS Region, in addition to the model in each Region in
    the inference profile." (Prerequisites for model distillation,
    https://docs.aws.amazon.com/bedrock/latest/userguide/prequisites-model-distillation.html). A teacher in the
    job's own Region needs nothing on the role: the docs list no InvokeModel for it."""
    if not teacher.startswith(PROFILE_PREFIXES):
        return []
    base = teacher.split(".", 1)[1]
    needs = [Need("bedrock:InvokeModel", f"arn:aws:bedrock:{region}:{account}:inference-profile/{teacher}",
                  f"to invoke the teacher's inference profile {teacher}")]  # fmt: skip
    needs += [Need("bedrock:InvokeModel", f"arn:aws:bedrock:{r}::foundation-model/{base}",
                   f"to invoke the teacher {base} in {r}, a Region of its profile") for r in profile_regions(teacher, region)]  # fmt: skip
    return needs


def s3_needs(training: str, output: str) -> list[Need]:
    """The service role's S3 access, as the customization role example grants it: read and list the training
    data; read, write and list the output location ("Create a service role for model customization",
    https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-iam-role.html). Training from
    invocation logs, ``training`` is the logs' prefix: "you must provide Amazon Bedrock permissions to access the
    logs" (https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-data-prep-option-2.html), the same
    read and list, there."""
    t_bucket, _, t_key = training.removeprefix("s3://").partition("/")
    o_bucket, _, o_key = output.removeprefix("s3://").partition("/")
    o_key = o_key if o_key.endswith("/") or not o_key else o_key + "/"
    # A prefix is read object by object: name one (Bedrock's log layout) so the need is a real object's.
    t_object = f"{t_key}AWSLogs/{_SAMPLE_LOG}" if t_key.endswith("/") or not t_key else t_key
    return [
        Need("s3:GetObject", f"arn:aws:s3:::{t_bucket}/{t_object}", "to read the training data"),
        Need("s3:ListBucket", f"arn:aws:s3:::{t_bucket}", "to list the training data", {"s3:prefix": t_key}),
        Need("s3:PutObject", f"arn:aws:s3:::{o_bucket}/{o_key}training_artifacts/metrics.csv", "to write the job output"),
        Need("s3:GetObject", f"arn:aws:s3:::{o_bucket}/{o_key}training_artifacts/metrics.csv", "to read the job output"),
        Need("s3:ListBucket", f"arn:aws:s3:::{o_bucket}", "to list the job output", {"s3:prefix": o_key}),
    ]


_SAMPLE_LOG = "123456789012/BedrockModelInvocationLogs/us-east-1/2026/01/01/00/20260101T000000Z_0.json.gz"


def bucket_key_needs(bucket_keys: Mapping[str, str], training: str, output: str) -> list[Need]:
    """SSE-KMS buckets: reading needs kms:Decrypt, writing kms:GenerateDataKey on the bucket's key
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys)."""
    needs = []
    for uri, action in ((training, "kms:Decrypt"), (output, "kms:GenerateDataKey"), (output, "kms:Decrypt")):
        key = bucket_keys.get(uri.removeprefix("s3://").split("/", 1)[0])
        if key:
            needs.append(Need(action, key, f"to use the bucket key of {uri}"))
    return needs


def trust_context(account: str, job_arn: str) -> dict[str, str]:
    """What Bedrock's AssumeRole carries: the confused-deputy condition keys of the role's trust policy."""
    return {"aws:SourceAccount": account, "aws:SourceArn": job_arn}


def model_key_needs_for_customizer(key_arn: str, region: str) -> list[Need]:
    """"Encrypt a model": the identity that customizes needs kms:Decrypt, GenerateDataKey, DescribeKey and
    CreateGrant on the key (https://docs.aws.amazon.com/bedrock/latest/userguide/encryption-custom-job.html)."""
    via = {"kms:ViaService": f"bedrock.{region}.amazonaws.com"}
    return [Need(a, key_arn, "to encrypt the custom model with customModelKmsKeyId", via)
            for a in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")]  # fmt: skip


def model_key_needs_for_user(key_arn: str, region: str) -> list[Need]:
    """"Allow access to an encrypted model": whoever serves or invokes it needs kms:Decrypt (same page)."""
    return [Need("kms:Decrypt", key_arn, "to use the encrypted custom model",
                 {"kms:ViaService": f"bedrock.{region}.amazonaws.com"})]  # fmt: skip
