"""The data bucket: private, encrypted, TLS-only, versioned, retained, and tidy."""

from __future__ import annotations


def _data_bucket_id(synth) -> str:
    """The data bucket's logical id: the bucket the BucketName output names (not the access-log bucket)."""
    return synth.data_json["Outputs"]["BucketName"]["Value"]["Ref"]


def _data_bucket(synth):
    bucket = synth.data_json["Resources"][_data_bucket_id(synth)]
    assert bucket["Type"] == "AWS::S3::Bucket"
    return bucket


def _access_log_bucket(synth):
    """The bucket the data bucket's server access logs go to."""
    logs_id = _data_bucket(synth)["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert logs_id != _data_bucket_id(synth)
    return synth.data_json["Resources"][logs_id]


def test_given_default_config_when_synthesized_then_the_data_and_access_log_buckets_are_in_the_data_stack(synth):
    synth.data.resource_count_is("AWS::S3::Bucket", 2)
    synth.pipeline.resource_count_is("AWS::S3::Bucket", 0)


def test_given_default_config_when_synthesized_then_the_data_bucket_logs_access_to_a_hardened_retained_bucket(synth):
    (logs_id,) = [k for k in synth.resources("AWS::S3::Bucket", stack="data") if k != _data_bucket_id(synth)]
    assert _data_bucket(synth)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": "data-bucket/",
    }
    logs = _access_log_bucket(synth)
    assert logs["DeletionPolicy"] == "Retain"
    assert logs["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    (rule,) = logs["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == synth.config.access_log_retention_days


def test_given_default_config_when_synthesized_then_the_data_bucket_itself_is_versioned(synth):
    # An overwritten dataset, report or summary stays recoverable.
    assert _data_bucket(synth)["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_given_default_config_when_synthesized_then_the_data_bucket_is_s3_encrypted(synth):
    assert _data_bucket(synth)["Properties"]["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}  # fmt: skip


def test_given_default_config_when_synthesized_then_the_data_bucket_blocks_all_public_access(synth):
    assert _data_bucket(synth)["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip


def test_given_default_config_when_synthesized_then_the_data_bucket_denies_insecure_transport(synth):
    bucket_id = _data_bucket_id(synth)
    (policy,) = [p for p in synth.resources("AWS::S3::BucketPolicy", stack="data").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]  # fmt: skip
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {key: deny[key] for key in ("Action", "Principal", "Condition")} == {
        "Action": "s3:*",
        "Principal": {"AWS": "*"},
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    # The bucket and every object in it.
    assert sorted(synth.flatten(r) for r in deny["Resource"]) == [f"<{bucket_id}.Arn>", f"<{bucket_id}.Arn>/*"]


def test_given_default_config_when_synthesized_then_bucket_is_retained_on_stack_deletion(synth):
    bucket = _data_bucket(synth)
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    # No auto-delete custom resource that would empty the bucket.
    assert not synth.resources("Custom::S3AutoDeleteObjects", stack="data")


def test_given_default_config_when_synthesized_then_old_versions_expire_and_uploads_are_aborted(synth):
    rules = _data_bucket(synth)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rules == [{
        "Id": "ExpireOldVersionsAndAbortUploads",
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": synth.config.noncurrent_version_expiration_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }]  # fmt: skip


def test_given_default_config_when_synthesized_then_bucket_sends_events_to_eventbridge(synth):
    assert _data_bucket(synth)["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}}  # fmt: skip


def test_given_default_config_when_synthesized_then_bucket_name_and_drop_prefix_are_outputs(synth):
    outputs = synth.data_json["Outputs"]
    assert outputs["BucketName"]["Value"] == {"Ref": "Bucket83908E77"}
    assert outputs["DropPrefix"]["Value"]["Fn::Join"][1][-1] == "/incoming/"
    assert "StateMachineArn" in synth.pipeline_json["Outputs"]


def test_given_default_config_when_synthesized_then_data_stack_needs_no_custom_resource_lambda(synth):
    # EventBridge delivery is a native bucket property, not CDK's notifications custom resource.
    synth.data.resource_count_is("AWS::Lambda::Function", 0)
    assert not synth.resources("Custom::S3BucketNotifications", stack="data")


def test_given_default_config_when_synthesized_then_bedrock_may_deliver_invocation_logs_under_its_prefix_only(synth):
    bucket_id = _data_bucket_id(synth)
    (policy,) = [p for p in synth.resources("AWS::S3::BucketPolicy", stack="data").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]  # fmt: skip
    (delivery,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    # The user guide's statement for model invocation logging to S3, with its confused-deputy conditions.
    assert delivery["Principal"] == {"Service": "bedrock.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    assert synth.flatten(delivery["Resource"]) == (
        f"<{bucket_id}.Arn>/invocation-logs/AWSLogs/<AWS::AccountId>/BedrockModelInvocationLogs/*")
    assert {test: {k: synth.flatten(v) for k, v in keys.items()} for test, keys in delivery["Condition"].items()} == {
        "StringEquals": {"aws:SourceAccount": "<AWS::AccountId>"},
        "ArnLike": {"aws:SourceArn": "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:*"}}
    assert synth.data_json["Outputs"]["InvocationLogsPrefix"]["Value"]["Fn::Join"][1][-1] == "/invocation-logs/"
