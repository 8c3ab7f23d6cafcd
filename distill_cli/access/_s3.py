"""Amazon S3 object and bucket calls, and the KMS calls S3 makes with the caller's permissions for SSE-KMS.

Actions and resource types: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
Per operation: the "Permissions" section of each API page, https://docs.aws.amazon.com/AmazonS3/latest/API/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill_cli.access._model import ContextValue, Handler, Requirement, Where, param


def _bucket(params: Mapping[str, Any], operation: str) -> str:
    bucket = str(param(params, "Bucket", operation))
    if bucket.startswith("arn:"):
        raise ValueError(f"{operation}: access points and Outposts buckets are not modelled ({bucket})")
    return bucket


def bucket_arn(where: Where, bucket: str) -> str:
    return f"arn:{where.partition}:s3:::{bucket}"


def object_arn(where: Where, params: Mapping[str, Any], operation: str) -> str:
    return f"{bucket_arn(where, _bucket(params, operation))}/{param(params, 'Key', operation)}"


def key_arn(where: Where, key: str) -> str:
    """A KMS key given as ARN, key id, alias name or alias ARN -> the key's ARN (KMS authorizes the key)."""
    if key.startswith("arn:") and ":key/" in key:
        return key
    alias = key.split(":", 5)[-1] if key.startswith("arn:") else key
    if alias.startswith("alias/"):
        if alias not in where.kms_aliases:
            raise ValueError(f"which key does {alias} point to? Give it in Where.kms_aliases")
        return where.kms_aliases[alias]
    return where.arn("kms", f"key/{key}")


def _kms_on_behalf(
    where: Where, params: Mapping[str, Any], operation: str, actions: tuple[str, ...]
) -> list[Requirement]:
    """The KMS permissions S3 checks with the caller's credentials for an SSE-KMS object.

    GetObject needs kms:Decrypt, PutObject kms:GenerateDataKey
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html); for multipart uploads
    "the requester must also have permissions for the kms:GenerateDataKey action for the CreateMultipartUpload API.
    Then, the requester needs permissions for the kms:Decrypt action on the UploadPart and UploadPartCopy APIs"
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html).
    S3 calls KMS on the caller's behalf: kms:ViaService is s3.<region>.amazonaws.com
    (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service) and the
    encryption context is aws:s3:arn = the object's ARN, or the bucket's with S3 Bucket Keys
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html)."""
    bucket = _bucket(params, operation)
    explicit = params.get("SSEKMSKeyId")
    if explicit:
        key = key_arn(where, str(explicit))
    elif bucket in where.bucket_keys:
        key = where.bucket_keys[bucket]
    elif params.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
        raise ValueError(f"{operation}: SSE-KMS with the AWS managed key: name the key (SSEKMSKeyId)")
    else:
        return []
    scope = bucket_arn(where, bucket) if where.bucket_key_enabled else object_arn(where, params, operation)
    context: dict[str, ContextValue] = {
        "kms:ViaService": f"s3.{where.region}.amazonaws.com",
        "kms:CallerAccount": where.account,
        "kms:EncryptionContext:aws:s3:arn": scope,
        "kms:EncryptionContextKeys": ("aws:s3:arn",),
        "aws:ViaAWSService": "true",
    }
    return [Requirement(action, key, context) for action in actions]


def _object_read(action: str, kms: tuple[str, ...]) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        # "If you include a versionId in your request header, you must have the s3:GetObjectVersion permission ...
        # The s3:GetObject permission is not required in this scenario." (API_GetObject; HeadObject likewise.)
        chosen = "s3:GetObjectVersion" if params.get("VersionId") else action
        found = [Requirement(chosen, object_arn(where, params, action))]
        # A Range request is authorized like the whole object: same action, same resource.
        return found + _kms_on_behalf(where, params, action, kms)

    return handler


def _head_object(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # "To use HEAD, you must have the s3:GetObject permission." KMS is needed only to return a checksum
    # (x-amz-checksum-mode: ENABLED), per API_HeadObject.
    kms = ("kms:Decrypt",) if params.get("ChecksumMode") == "ENABLED" else ()
    return _object_read("s3:GetObject", kms)(params, where)


def _object_write(kms: tuple[str, ...], extras: bool = False) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        arn = object_arn(where, params, "s3:PutObject")
        context: dict[str, ContextValue] = {}
        if params.get("ServerSideEncryption"):
            context["s3:x-amz-server-side-encryption"] = str(params["ServerSideEncryption"])
        if params.get("SSEKMSKeyId"):
            context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = str(params["SSEKMSKeyId"])
        found = [Requirement("s3:PutObject", arn, context)]
        if extras:
            # API_PutObject: a Tagging header needs s3:PutObjectTagging, an ACL s3:PutObjectAcl.
            if params.get("Tagging"):
                found.append(Requirement("s3:PutObjectTagging", arn))
            if any(params.get(name) for name in ("ACL", "GrantFullControl", "GrantRead", "GrantReadACP",
                                                 "GrantWriteACP")):  # fmt: skip
                found.append(Requirement("s3:PutObjectAcl", arn))
        return found + _kms_on_behalf(where, params, "s3:PutObject", kms)

    return handler


def _delete_object(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    action = "s3:DeleteObjectVersion" if params.get("VersionId") else "s3:DeleteObject"
    return [Requirement(action, object_arn(where, params, "DeleteObject"))]


def _list_objects(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # ListObjectsV2 is authorized as s3:ListBucket on the bucket. With no Prefix the prefix is "", as the S3 docs'
    # example granting the root listing with "s3:prefix": [""] relies on
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html).
    context: dict[str, ContextValue] = {"s3:prefix": str(params.get("Prefix") or "")}
    if params.get("Delimiter"):
        context["s3:delimiter"] = str(params["Delimiter"])
    if params.get("MaxKeys") is not None:
        context["s3:max-keys"] = str(params["MaxKeys"])
    return [Requirement("s3:ListBucket", bucket_arn(where, _bucket(params, "ListObjectsV2")), context)]


def _on_bucket(action: str) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        return [Requirement(action, bucket_arn(where, _bucket(params, action)))]

    return handler


def _abort(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    return [Requirement("s3:AbortMultipartUpload", object_arn(where, params, "AbortMultipartUpload"))]


HANDLERS: dict[str, Handler] = {
    "GetObject": _object_read("s3:GetObject", ("kms:Decrypt",)),
    "HeadObject": _head_object,
    "PutObject": _object_write(("kms:GenerateDataKey",), extras=True),
    "DeleteObject": _delete_object,
    "ListObjectsV2": _list_objects,
    # Multipart uploads are authorized as s3:PutObject (API_CreateMultipartUpload, "Multipart upload and
    # permissions": https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
    "CreateMultipartUpload": _object_write(("kms:GenerateDataKey",), extras=True),
    "UploadPart": _object_write(("kms:Decrypt",)),
    # API_CompleteMultipartUpload: kms:Decrypt is needed when the parts carry checksums, which current SDKs add by
    # default; we always ask for it (stricter than AWS for checksum-less uploads).
    "CompleteMultipartUpload": _object_write(("kms:Decrypt",)),
    "AbortMultipartUpload": _abort,
    "ListMultipartUploads": _on_bucket("s3:ListBucketMultipartUploads"),
}
