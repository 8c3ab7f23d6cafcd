"""The operations resources: drop trigger, failure rule, notification topic and alarm."""

from __future__ import annotations

from aws_cdk.assertions import Match


def _rule(synth, description_start: str) -> dict:
    (rule,) = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"]["Description"].startswith(description_start)
    ]
    return rule


def _target_function(synth, rule: dict) -> str:
    (target,) = rule["Targets"]
    return target["Arn"]["Fn::GetAtt"][0]


def test_given_default_config_when_synthesized_then_a_dropped_jsonl_file_starts_the_starter_function(synth):
    rule = _rule(synth, "A .jsonl")
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert synth.flatten(pattern["detail"]["bucket"]["name"][0]).startswith("<import:DistillData:")
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "incoming/*.jsonl"}, {"wildcard": "incoming/*.jsonl.gz"}]
    assert _target_function(synth, rule).startswith("FunctionsStartFromDrop")
    assert rule["Targets"][0]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 4}


def test_given_default_config_when_synthesized_then_the_data_bucket_sends_events_to_eventbridge(synth):
    synth.data.has_resource_properties(
        "AWS::S3::Bucket", {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}}
    )


def test_given_default_config_when_synthesized_then_failed_timed_out_and_aborted_runs_reach_the_notifier(synth):
    rule = _rule(synth, "An execution failed")
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert pattern["detail"]["stateMachineArn"] == [
        {"Ref": next(iter(synth.resources("AWS::StepFunctions::StateMachine")))}
    ]
    assert _target_function(synth, rule).startswith("FunctionsNotifyFailure")


def test_given_default_config_when_synthesized_then_the_topic_is_encrypted_and_tls_only(synth):
    synth.pipeline.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    synth.pipeline.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    synth.pipeline.resource_count_is("AWS::SNS::Subscription", 0)  # no email configured by default


def test_given_default_config_when_synthesized_then_an_alarm_on_failed_runs_publishes_to_the_topic(synth):
    (alarm,) = [a for a in synth.resources("AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("Metrics")]  # fmt: skip
    props = alarm["Properties"]
    assert props["Threshold"] == 1 and props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    metrics = {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}
    assert metrics == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    (topic,) = synth.resources("AWS::SNS::Topic")
    assert props["AlarmActions"] == [{"Ref": topic}]


def test_given_default_config_when_synthesized_then_functions_know_the_topic_and_the_starter_the_machine(synth):
    (topic,) = synth.resources("AWS::SNS::Topic")
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine")
    for key, function in synth.resources("AWS::Lambda::Function").items():
        settings = synth.flatten(function["Properties"]["Environment"]["Variables"]["PIPELINE_SETTINGS"])
        assert f'"notificationTopicArn":"<{topic}>"' in settings, key
    starter = next(
        f for k, f in synth.resources("AWS::Lambda::Function").items() if k.startswith("FunctionsStartFromDrop")
    )
    assert starter["Properties"]["Environment"]["Variables"]["STATE_MACHINE_ARN"] == {"Ref": machine}


def test_given_no_kms_key_when_synthesized_then_the_topic_has_a_key_of_its_own_that_admits_cloudwatch(synth):
    # alias/aws/sns cannot admit CloudWatch: an alarm could never publish to a topic under it.
    (topic,) = synth.resources("AWS::SNS::Topic").values()
    (key_id, key) = next(iter(synth.resources("AWS::KMS::Key").items()))
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    (cloudwatch,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                     if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]  # fmt: skip
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert synth.flatten(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":alarm:*")


def test_given_default_config_when_synthesized_then_event_driven_functions_keep_what_they_fail_on(synth):
    # EventBridge invokes asynchronously: a function error is retried by Lambda, then goes to the on-failure
    # destination (the rule's DLQ only holds what EventBridge could not deliver).
    (queue,) = synth.resources("AWS::SQS::Queue")
    configs = synth.resources("AWS::Lambda::EventInvokeConfig").values()
    assert sorted(c["Properties"]["FunctionName"]["Ref"][:-8] for c in configs) == [
        "FunctionsJanitor", "FunctionsJobStateChanged", "FunctionsNotifyFailure", "FunctionsStartFromDrop"]  # fmt: skip
    for config in configs:
        assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert config["Properties"]["MaximumRetryAttempts"] == 2
    for function in ("StartFromDrop", "NotifyFailure", "JobStateChanged", "Janitor"):
        sends = [s for s in synth.statements(f"Functions{function}Role") if "sqs:SendMessage" in s["Action"]]
        assert [s["Action"] for s in sends] == [["sqs:SendMessage"]]
    # And something in that queue tells the topic.
    (topic,) = synth.resources("AWS::SNS::Topic")
    stuck = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()
             if a["Properties"].get("Namespace") == "AWS/SQS"]  # fmt: skip
    assert len(stuck) == 1 and stuck[0]["AlarmActions"] == [{"Ref": topic}]
    assert stuck[0]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}


def test_given_default_config_when_synthesized_then_bedrock_job_ends_reach_the_waiting_run(synth):
    (rule,) = [r["Properties"] for r in synth.resources("AWS::Events::Rule").values()
               if r["Properties"].get("EventPattern", {}).get("source") == ["aws.bedrock"]]  # fmt: skip
    assert rule["EventPattern"] == {"source": ["aws.bedrock"], "detail-type": ["Model Customization Job State Change"],
                                    "detail": {"jobStatus": ["Completed", "Failed", "Stopped"]}}  # fmt: skip
    (target,) = rule["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("FunctionsJobStateChanged")
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] == next(iter(synth.resources("AWS::SQS::Queue")))


def test_given_default_config_when_synthesized_then_the_janitor_runs_every_hour_and_keeps_what_it_fails_on(synth):
    (rule,) = [r["Properties"] for r in synth.resources("AWS::Events::Rule").values()
               if "ScheduleExpression" in r["Properties"]]  # fmt: skip
    assert rule["ScheduleExpression"] == "rate(1 hour)" and "EventPattern" not in rule
    (target,) = rule["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("FunctionsJanitor")
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 3600
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] == next(iter(synth.resources("AWS::SQS::Queue")))
