"""What the table says each call is authorized against, and how a denial is reported."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from distill_cli.access import (
    Decision,
    Principal,
    Requirement,
    UnknownOperation,
    Where,
    denied_error_code,
    denied_message,
    evaluate,
    required,
)

ACCOUNT, REGION = "111122223333", "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"
WHERE = Where(region=REGION, account=ACCOUNT, bucket_keys={"data": KEY})
ROLE = Principal(arn=f"arn:aws:iam::{ACCOUNT}:role/Fn", session_name="fn")
PROVISIONED = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/p1"


def pairs(service: str, operation: str, params: dict[str, Any], where: Where = WHERE) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in required(service, operation, params, where)]


def test_given_the_access_package_when_imported_then_boto3_is_not() -> None:
    code = "import sys, distill_cli.access; print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_given_list_objects_when_required_then_it_is_list_bucket_on_the_bucket_with_the_prefix() -> None:
    (requirement,) = required("s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "drop/"}, WHERE)
    assert (requirement.action, requirement.resource) == ("s3:ListBucket", "arn:aws:s3:::data")
    assert requirement.context["s3:prefix"] == "drop/"
    (no_prefix,) = required("s3", "ListObjectsV2", {"Bucket": "data"}, WHERE)
    assert no_prefix.context["s3:prefix"] == ""


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("GetObject", [("s3:GetObject", "arn:aws:s3:::data/k"), ("kms:Decrypt", KEY)]),
        ("HeadObject", [("s3:GetObject", "arn:aws:s3:::data/k")]),
        ("PutObject", [("s3:PutObject", "arn:aws:s3:::data/k"), ("kms:GenerateDataKey", KEY)]),
        ("CreateMultipartUpload", [("s3:PutObject", "arn:aws:s3:::data/k"), ("kms:GenerateDataKey", KEY)]),
        ("UploadPart", [("s3:PutObject", "arn:aws:s3:::data/k"), ("kms:Decrypt", KEY)]),
        ("CompleteMultipartUpload", [("s3:PutObject", "arn:aws:s3:::data/k"), ("kms:Decrypt", KEY)]),
        ("AbortMultipartUpload", [("s3:AbortMultipartUpload", "arn:aws:s3:::data/k")]),
        ("DeleteObject", [("s3:DeleteObject", "arn:aws:s3:::data/k")]),
    ],
)
def test_given_an_sse_kms_bucket_when_objects_are_used_then_s3_needs_the_callers_kms_permissions(
    operation: str, expected: list[tuple[str, str]]
) -> None:
    assert pairs("s3", operation, {"Bucket": "data", "Key": "k"}) == expected


def test_given_a_bucket_without_kms_when_objects_are_used_then_no_kms_permission_is_needed() -> None:
    assert pairs("s3", "GetObject", {"Bucket": "logs", "Key": "k", "Range": "bytes=0-9"}) == [
        ("s3:GetObject", "arn:aws:s3:::logs/k")
    ]


def test_given_s3_calls_kms_for_the_caller_when_required_then_the_context_says_so() -> None:
    kms = required("s3", "GetObject", {"Bucket": "data", "Key": "k"}, WHERE)[1]
    assert kms.context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"
    assert kms.context["kms:EncryptionContext:aws:s3:arn"] == "arn:aws:s3:::data"  # S3 Bucket Keys
    assert kms.context["aws:ViaAWSService"] == "true"
    without_bucket_keys = Where(region=REGION, account=ACCOUNT, bucket_keys={"data": KEY}, bucket_key_enabled=False)
    kms = required("s3", "GetObject", {"Bucket": "data", "Key": "k"}, without_bucket_keys)[1]
    assert kms.context["kms:EncryptionContext:aws:s3:arn"] == "arn:aws:s3:::data/k"


def test_given_a_versioned_read_when_required_then_it_is_get_object_version() -> None:
    assert pairs("s3", "GetObject", {"Bucket": "logs", "Key": "k", "VersionId": "v"})[0][0] == "s3:GetObjectVersion"


def test_given_a_customization_job_when_required_then_models_role_and_tags_are_all_authorized() -> None:
    params = {
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/Bedrock", "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customizationConfig": {"distillationConfig": {"teacherModelConfig": {
            "teacherModelIdentifier": "amazon.nova-pro-v1:0"}}},
        "jobTags": [{"key": "created-by", "value": "distill-pipeline"}],
    }  # fmt: skip
    found = required("bedrock", "CreateModelCustomizationJob", params, WHERE)
    assert [(r.action, r.resource) for r in found] == [
        ("bedrock:CreateModelCustomizationJob", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/new-resource-id"),
        ("bedrock:CreateModelCustomizationJob", f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0:128k"),
        ("bedrock:CreateModelCustomizationJob", f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-pro-v1:0"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Bedrock"),
        ("bedrock:TagResource", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/new-resource-id"),
    ]  # fmt: skip
    assert found[3].context["iam:PassedToService"] == "bedrock.amazonaws.com"
    assert found[0].context["aws:RequestTag/created-by"] == "distill-pipeline"
    assert found[0].context["aws:TagKeys"] == ("created-by",)


def test_given_a_profile_teacher_when_its_regions_are_unknown_then_the_table_asks_for_them() -> None:
    params = {"roleArn": "arn:aws:iam::1:role/B", "baseModelIdentifier": "amazon.nova-micro-v1:0",
              "customizationConfig": {"distillationConfig": {"teacherModelConfig": {
                  "teacherModelIdentifier": "us.amazon.nova-pro-v1:0"}}}}  # fmt: skip
    with pytest.raises(ValueError, match="profile_regions"):
        required("bedrock", "CreateModelCustomizationJob", params, WHERE)


@pytest.mark.parametrize(
    ("operation", "params", "resource"),
    [
        ("GetModelCustomizationJob", {"jobIdentifier": "run-1"},
         f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/run-1"),
        ("GetProvisionedModelThroughput", {"provisionedModelId": "pt-1"},
         f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/pt-1"),
        ("GetCustomModelDeployment", {"customModelDeploymentIdentifier": "dep-1"},
         f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/dep-1"),
        ("GetProvisionedModelThroughput", {"provisionedModelId": PROVISIONED}, PROVISIONED),
    ],
)  # fmt: skip
def test_given_a_name_instead_of_an_arn_when_required_then_the_arn_is_built_from_it(
    operation: str, params: dict[str, Any], resource: str
) -> None:
    assert pairs("bedrock", operation, params)[0][1] == resource


def test_given_a_known_name_when_required_then_where_names_gives_the_real_arn() -> None:
    real = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-micro-v1:0/abc"
    where = Where(region=REGION, account=ACCOUNT, names={"run-1": real})
    assert pairs("bedrock", "GetModelCustomizationJob", {"jobIdentifier": "run-1"}, where)[0][1] == real


def test_given_tagged_throughput_when_deleted_then_its_tags_are_in_the_context() -> None:
    where = Where(region=REGION, account=ACCOUNT, resource_tags={PROVISIONED: {"created-by": "distill-pipeline"}})
    (requirement,) = required("bedrock", "DeleteProvisionedModelThroughput", {"provisionedModelId": PROVISIONED}, where)
    assert requirement.context["aws:ResourceTag/created-by"] == "distill-pipeline"
    guard = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "bedrock:DeleteProvisionedModelThroughput",
        "Resource": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/created-by": "distill-pipeline"}}}]}  # fmt: skip
    assert evaluate([guard], requirement.request(ROLE)).allowed
    (untagged,) = required("bedrock", "DeleteProvisionedModelThroughput", {"provisionedModelId": PROVISIONED}, WHERE)
    assert not evaluate([guard], untagged.request(ROLE)).allowed


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (PROVISIONED, [PROVISIONED]),
        (f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/d1",
         [f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/d1"]),
        ("amazon.nova-micro-v1:0", [f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0"]),
        ("us.amazon.nova-pro-v1:0", [f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/us.amazon.nova-pro-v1:0",
                                     "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
                                     "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0"]),
    ],
)  # fmt: skip
def test_given_a_model_id_when_conversing_then_invoke_model_is_checked_on_each_resource_it_reaches(
    model_id: str, expected: list[str]
) -> None:
    where = Where(
        region=REGION, account=ACCOUNT, profile_regions={"us.amazon.nova-pro-v1:0": ["us-east-1", "us-west-2"]}
    )
    found = required("bedrock-runtime", "Converse", {"modelId": model_id}, where)
    assert [(r.action, r.resource) for r in found] == [("bedrock:InvokeModel", arn) for arn in expected]


def test_given_a_custom_model_arn_when_invoked_then_the_table_refuses_it() -> None:
    with pytest.raises(ValueError, match="provisioned model or a deployment"):
        required("bedrock-runtime", "InvokeModel", {"modelId": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/m"},
                 WHERE)  # fmt: skip


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("sqs", "SendMessage", {"QueueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/dlq"},
         ("sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:dlq")),
        ("stepfunctions", "SendTaskSuccess", {"taskToken": "t"}, ("states:SendTaskSuccess", "*")),
        ("kms", "GenerateDataKey", {"KeyId": "k1"}, ("kms:GenerateDataKey", KEY)),
        ("dynamodb", "Query", {"TableName": "runs", "IndexName": "i"},
         ("dynamodb:Query", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/runs/index/i")),
        ("cloudformation", "DescribeStacks", {"StackName": "Distill"},
         ("cloudformation:DescribeStacks", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/Distill/*")),
        ("iam", "GetRole", {"RoleName": "R"}, ("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/R")),
        ("cloudwatch", "GetMetricData", {}, ("cloudwatch:GetMetricData", "*")),
    ],
)  # fmt: skip
def test_given_other_services_when_required_then_the_resource_is_the_one_aws_checks(
    service: str, operation: str, params: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert pairs(service, operation, params) == [expected]


def test_given_iam_when_required_then_the_requested_region_is_the_global_endpoints() -> None:
    (requirement,) = required("iam", "GetRole", {"RoleName": "R"}, Where(region="eu-west-1", account=ACCOUNT))
    assert requirement.context["aws:RequestedRegion"] == "us-east-1"


def test_given_a_kms_alias_when_required_then_the_key_is_resolved_and_the_alias_is_in_the_context() -> None:
    where = Where(region=REGION, account=ACCOUNT, kms_aliases={"alias/project": KEY})
    (requirement,) = required("kms", "DescribeKey", {"KeyId": "alias/project"}, where)
    assert (requirement.resource, requirement.context["kms:RequestAlias"]) == (KEY, "alias/project")
    with pytest.raises(ValueError, match="kms_aliases"):
        required("kms", "DescribeKey", {"KeyId": "alias/other"}, where)


@pytest.mark.parametrize(
    ("service", "operation"),
    [("s3", "ListBuckets"), ("bedrock", "DeleteCustomModel"), ("lambda", "Invoke"), ("s3", "list_objects_v2")],
)
def test_given_an_operation_not_in_the_table_when_required_then_it_is_refused_by_name(
    service: str, operation: str
) -> None:
    with pytest.raises(UnknownOperation, match=f"{service}.{operation}"):
        required(service, operation, {}, WHERE)


def test_given_missing_params_when_required_then_a_value_error_names_the_parameter() -> None:
    with pytest.raises(ValueError, match="Bucket"):
        required("s3", "GetObject", {"Key": "k"}, WHERE)


@pytest.mark.parametrize(
    ("service", "expected"),
    [("s3", ("AccessDenied", 403)), ("bedrock", ("AccessDeniedException", 403)),
     ("bedrock-runtime", ("AccessDeniedException", 403)), ("sns", ("AuthorizationError", 403)),
     ("sqs", ("AccessDenied", 403)), ("stepfunctions", ("AccessDeniedException", 400)),
     ("kms", ("AccessDeniedException", 400)), ("dynamodb", ("AccessDeniedException", 400)),
     ("cloudformation", ("AccessDenied", 403)), ("iam", ("AccessDenied", 403)),
     ("service-quotas", ("AccessDeniedException", 400)), ("cloudwatch", ("AccessDenied", 403))],
)  # fmt: skip
def test_given_a_service_when_access_is_denied_then_its_own_error_code_is_used(
    service: str, expected: tuple[str, int]
) -> None:
    assert denied_error_code(service) == expected


def test_given_every_service_in_the_table_when_asked_then_it_has_an_error_code() -> None:
    from distill_cli.access import OPERATIONS

    for service in {service for service, _ in OPERATIONS}:
        denied_error_code(service)
    with pytest.raises(UnknownOperation):
        denied_error_code("ec2")


def test_given_botocore_models_when_they_define_the_error_then_the_table_agrees() -> None:
    import botocore.session

    session = botocore.session.get_session()
    for service in ("s3", "bedrock", "bedrock-runtime", "sns"):
        code, status = denied_error_code(service)
        shapes = session.get_service_model(service).error_shapes
        modelled = {shape.metadata.get("error", {}).get("code", shape.name): shape for shape in shapes}
        assert code in modelled, service
        assert modelled[code].metadata["error"]["httpStatusCode"] == status, service


def test_given_a_denial_when_described_then_the_message_reads_like_aws() -> None:
    requirement = Requirement("bedrock:InvokeModel", PROVISIONED)
    implicit = Decision(False, False, (), "no identity-based policy allows ...")
    assert denied_message(ROLE.display_arn, requirement, implicit) == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/Fn/fn is not authorized to perform: bedrock:InvokeModel on "
        f"resource: {PROVISIONED} because no identity-based policy allows the bedrock:InvokeModel action"
    )
    explicit = Decision(False, True, ("S",), "explicitly denied", "resource-based")
    assert denied_message("arn:x", Requirement("s3:ListBucket", "arn:aws:s3:::data"), explicit) == (
        'User: arn:x is not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::data" '
        "with an explicit deny in a resource-based policy"
    )
    assert denied_message("arn:x", Requirement("cloudwatch:GetMetricData", "*"), implicit) == (
        "User: arn:x is not authorized to perform: cloudwatch:GetMetricData because no identity-based policy "
        "allows the cloudwatch:GetMetricData action"
    )
    with pytest.raises(ValueError):
        denied_message("arn:x", requirement, Decision(True, False, ("S",), "allowed"))
