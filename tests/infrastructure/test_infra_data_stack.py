"""The data bucket: private, encrypted, TLS-only, versioned, retained, and tidy."""

from __future__ import annotations

from aws_cdk.assertions import Match


def _bucket(synth, prefix: str = "Bucket"):
    (bucket,) = [b for k, b in synth.resources("AWS::S3::Bucket", stack="data").items() if k.startswith(prefix)]
    return bucket


def test_given_default_config_when_synthesized_then_the_data_and_access_log_buckets_are_in_the_data_stack(synth):
    synth.data.resource_count_is("AWS::S3::Bucket", 2)
    synth.pipeline.resource_count_is("AWS::S3::Bucket", 0)


def test_given_default_config_when_synthesized_then_the_data_bucket_logs_access_to_a_hardened_retained_bucket(synth):
    (logs_id,) = [k for k in synth.resources("AWS::S3::Bucket", stack="data") if k.startswith("AccessLogs")]
    assert _bucket(synth)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": "data-bucket/",
    }
    logs = _bucket(synth, "AccessLogs")
    assert logs["DeletionPolicy"] == "Retain"
    assert logs["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    (rule,) = logs["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == synth.config.access_log_retention_days


def test_given_default_config_when_synthesized_then_bucket_is_versioned_and_s3_encrypted(synth):
    synth.data.has_resource_properties("AWS::S3::Bucket", {
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    })  # fmt: skip


def test_given_default_config_when_synthesized_then_bucket_blocks_all_public_access(synth):
    synth.data.has_resource_properties("AWS::S3::Bucket", {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }})  # fmt: skip


def test_given_default_config_when_synthesized_then_bucket_denies_insecure_transport(synth):
    synth.data.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({
            "Effect": "Deny",
            "Action": "s3:*",
            "Principal": {"AWS": "*"},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })
    ])}})  # fmt: skip


def test_given_default_config_when_synthesized_then_bucket_is_retained_on_stack_deletion(synth):
    bucket = _bucket(synth)
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    # No auto-delete custom resource that would empty the bucket.
    assert not synth.resources("Custom::S3AutoDeleteObjects", stack="data")


def test_given_default_config_when_synthesized_then_old_versions_expire_and_uploads_are_aborted(synth):
    rules = _bucket(synth)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rules == [{
        "Id": "ExpireOldVersionsAndAbortUploads",
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": synth.config.noncurrent_version_expiration_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }]  # fmt: skip


def test_given_default_config_when_synthesized_then_bucket_sends_events_to_eventbridge(synth):
    synth.data.has_resource_properties("AWS::S3::Bucket", {
        "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
    })  # fmt: skip


def test_given_default_config_when_synthesized_then_bucket_name_and_drop_prefix_are_outputs(synth):
    outputs = synth.data_json["Outputs"]
    assert outputs["BucketName"]["Value"] == {"Ref": "Bucket83908E77"}
    assert outputs["DropPrefix"]["Value"]["Fn::Join"][1][-1] == "/incoming/"
    assert "StateMachineArn" in synth.pipeline_json["Outputs"]


def test_given_default_config_when_synthesized_then_data_stack_needs_no_custom_resource_lambda(synth):
    # EventBridge delivery is a native bucket property, not CDK's notifications custom resource.
    synth.data.resource_count_is("AWS::Lambda::Function", 0)
    assert not synth.resources("Custom::S3BucketNotifications", stack="data")
