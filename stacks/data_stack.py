"""The data: one bucket that outlives the pipeline (redeploying or destroying the pipeline never touches it)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.compliance import acknowledge, skip_checkov
from stacks.config import PipelineConfig


class DataStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig, **kwargs) -> None:
        super().__init__(scope, id, description="Bedrock distillation pipeline: data bucket (retained)", **kwargs)
        key = kms.Key.from_key_arn(self, "BucketKey", config.kms_key_arn) if config.kms_key_arn else None
        # Server access logs of the data bucket (who read or wrote which dataset). S3 delivers access logs only
        # to a bucket with S3-managed encryption, hence no KMS key here.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(config.access_log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
        )
        skip_checkov(self.access_logs, "CKV_AWS_18", "This bucket is the access-log target of the data bucket.")
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket is the access-log target itself; logging its own access would log every log delivery.",
        )
        # Prefixes (BucketLayout): incoming/ drop zone, datasets/ converted data, jobs/ Bedrock output, reports/.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,  # an overwritten dataset or report stays recoverable
            encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=True if key else None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersionsAndAbortUploads",
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_expiration_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # The drop-zone trigger (a later issue) listens to "Object Created" events on EventBridge. Set natively on
        # the bucket: event_bridge_enabled=True would add a custom-resource Lambda (old runtime, managed policy).
        # Do not also use bucket.add_event_notification(): that custom resource would own this setting.
        cfn_bucket: s3.CfnBucket = self.bucket.node.default_child  # type: ignore[assignment]
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        self._admit_invocation_logging(config)
        CfnOutput(self, "BucketName", value=self.bucket.bucket_name, description="The pipeline's data bucket")
        CfnOutput(self, "DropPrefix", value=f"s3://{self.bucket.bucket_name}/{config.layout.drop_prefix}",
                  description="Put raw JSONL here (or name it as an execution's dataset)")  # fmt: skip

    def _admit_invocation_logging(self, config: PipelineConfig) -> None:
        """Bedrock's model invocation logging may deliver to this bucket, under invocation-logs/, so a team can
        distil from its own traffic without a second bucket. The statement is the one the user guide gives, with
        its confused-deputy conditions ("Monitor model invocation using CloudWatch Logs and Amazon S3",
        https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html)."""
        prefix = config.layout.logs_prefix.rstrip("/")
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="AmazonBedrockLogsWrite", principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[self.bucket.arn_for_objects(f"{prefix}/AWSLogs/{self.account}/BedrockModelInvocationLogs/*")],
            conditions={"StringEquals": {"aws:SourceAccount": self.account},
                        "ArnLike": {"aws:SourceArn": f"arn:{self.partition}:bedrock:{self.region}:{self.account}:*"}},
        ))  # fmt: skip
        CfnOutput(self, "InvocationLogsPrefix", value=f"s3://{self.bucket.bucket_name}/{config.layout.logs_prefix}",
                  description="Point Bedrock's model invocation logging here (keyPrefix invocation-logs) to distil "
                  "from your own traffic")  # fmt: skip
