"""The role Bedrock assumes while it runs a distillation job."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from distill.settings import BucketLayout
from stacks.constructs.arns import bedrock_arn, is_inference_profile, model_arns
from stacks.constructs.grants import read_logs


class BedrockServiceRole(Construct):
    """Reads the converted dataset (datasets/) and writes the job's output (jobs/); nothing else."""

    def __init__(self, scope: Construct, id: str, *, bucket: s3.IBucket, layout: BucketLayout,
                 teachers: Sequence[str] = (), log_locations: Sequence[tuple[str, str]] = ()) -> None:  # fmt: skip
        super().__init__(scope, id)
        # Confused-deputy guard: only customization jobs of this account may assume the role.
        principal = iam.ServicePrincipal(
            "bedrock.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": bedrock_arn(self, "model-customization-job")},
            },
        )
        self.role = iam.Role(self, "Role", assumed_by=principal, description="Bedrock distillation jobs")
        datasets, jobs = layout.datasets_prefix, layout.jobs_prefix
        # As the customization role example grants it ("Create a service role for model customization"): read and
        # list the training data; read, write and list the output location. Each to its own prefix.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadTrainingData", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{datasets}*")],
        ))  # fmt: skip
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListTrainingData", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{datasets}*"]}},
        ))  # fmt: skip
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadWriteJobOutput", actions=["s3:GetObject", "s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{jobs}*")],
        ))  # fmt: skip
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListJobOutput", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{jobs}*"]}},
        ))  # fmt: skip
        # "To use a cross-region inference profile for a teacher model in a Distillation job, your service role
        # must have permissions to invoke the inference profile in an AWS Region, in addition to the model in each
        # Region in the inference profile" (Prerequisites for model distillation). A teacher in the job's own
        # Region needs nothing here.
        profiles = [arn for teacher in teachers if is_inference_profile(teacher) for arn in model_arns(self, teacher)]
        if profiles:
            self.role.add_to_policy(iam.PolicyStatement(
                sid="InvokeCrossRegionTeachers", actions=["bedrock:InvokeModel"], resources=sorted(set(profiles)),
            ))  # fmt: skip
        # A run from invocation logs: Bedrock reads the logs under the allowed prefixes, read-only.
        if log_locations:
            read_logs(self.role, list(log_locations), "InvocationLogs")
        if bucket.encryption_key is not None:
            self.role.add_to_policy(iam.PolicyStatement(
                sid="UseBucketKey", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[bucket.encryption_key.key_arn],
            ))  # fmt: skip
