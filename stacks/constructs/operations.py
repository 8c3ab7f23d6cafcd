"""Running unattended: the notification topic, the alarm, and the EventBridge rules.

* Object Created under the drop prefix -> "start run for dropped file" (one run per object, see distill.drops);
* an execution that FAILED, TIMED_OUT or was ABORTED -> "notify failure" (summary, notice, cost guard, job slot);
* Bedrock's "Model Customization Job State Change" -> "job state changed" (answers the run waiting for the job);
* every hour -> the janitor (expired and idle serving, job slots of runs that ended without giving them back);
* an alarm on failed/timed-out/aborted executions publishes to the same topic, so the topic hears of a
  failure even if the notifier itself broke.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from distill.drops import DATA_SUFFIXES
from stacks.compliance import acknowledge, skip_checkov


class NotificationTopic(Construct):
    """Where people hear how runs end (email subscription from ``notificationEmail``).

    Encrypted at rest and TLS-only. Not with the AWS managed key ``alias/aws/sns``: its key policy cannot admit
    CloudWatch, so the alarm could never publish ("Enable compatibility between event sources from AWS services
    and encrypted topics", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). Without
    ``kmsKeyArn`` the topic gets a customer managed key of its own whose policy admits CloudWatch alarms of this
    account; with ``kmsKeyArn`` that key's policy must admit them (README, "Security and compliance").
    """

    def __init__(self, scope: Construct, id: str, *, email: str, key: kms.IKey | None) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        if key is None:
            key = kms.Key(self, "TopicKey", description="Encrypts the distillation pipeline's notification topic",
                          enable_key_rotation=True, removal_policy=RemovalPolicy.DESTROY,
                          pending_window=Duration.days(7))  # fmt: skip
            key.add_to_resource_policy(iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                            "ArnLike": {"aws:SourceArn": stack.format_arn(service="cloudwatch", resource="alarm",
                                                                          resource_name="*",
                                                                          arn_format=ArnFormat.COLON_RESOURCE_NAME)}},
            ))  # fmt: skip
        self.key = key
        self.topic = sns.Topic(self, "Topic", display_name="Bedrock distillation runs", master_key=key,
                               enforce_ssl=True)  # fmt: skip
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


class RunTriggers(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        drop_prefix: str,
        state_machine: sfn.IStateMachine,
        start_from_drop: lambda_.IFunction,
        notify_failure: lambda_.IFunction,
        job_state_changed: lambda_.IFunction,
        janitor: lambda_.IFunction,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        # Kept here instead of lost (14 days): events EventBridge could not deliver (the rules' dead-letter queue)
        # and events the functions failed on three times (their on-failure destination).
        self.undelivered = sqs.Queue(
            self,
            "UndeliveredEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(self.undelivered, "AwsSolutions-SQS3",
                    "This queue is itself the rules' dead-letter queue and the functions' on-failure destination.")  # fmt: skip
        # EventBridge invokes a function asynchronously: a function error is Lambda's to retry (twice), and then
        # the event goes to the on-failure destination -- the rule's dead-letter queue never sees it
        # (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
        for function in (start_from_drop, notify_failure, job_state_changed, janitor):
            function.configure_async_invoke(on_failure=_QueueDestination(self.undelivered), retry_attempts=2,
                                            max_event_age=Duration.hours(6))  # fmt: skip
        skip_checkov(
            self.undelivered,
            "CKV_AWS_27",
            "Encrypted with SQS-managed keys (SSE-SQS): EventBridge cannot deliver to a queue under the AWS managed "
            "KMS key, which cannot grant it access.",
        )
        events.Rule(
            self,
            "DatasetDropped",
            description="A .jsonl/.jsonl.gz file lands in the drop zone: start one run for it",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"wildcard": f"{drop_prefix}*{suffix}"} for suffix in DATA_SUFFIXES]},
                },
            ),
            targets=[self._target(start_from_drop, max_age=Duration.hours(2))],
        )
        events.Rule(
            self,
            "RunEndedBadly",
            description="An execution failed, timed out or was aborted: summarize it and tell the topic",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "stateMachineArn": [state_machine.state_machine_arn],
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                },
            ),
            targets=[self._target(notify_failure, max_age=Duration.hours(6))],
        )
        events.Rule(
            self,
            "JobEnded",
            description="A Bedrock customization job ended: resume the run waiting for it (if one is)",
            event_pattern=events.EventPattern(
                source=["aws.bedrock"],
                detail_type=["Model Customization Job State Change"],
                detail={"jobStatus": ["Completed", "Failed", "Stopped"]},
            ),
            targets=[self._target(job_state_changed, max_age=Duration.hours(6))],
        )
        events.Rule(
            self,
            "ServingJanitor",
            description="Hourly: delete this pipeline's expired serving (servingTtlHours), warn about idle serving",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[self._target(janitor, max_age=Duration.hours(1))],
        )
        ended_badly = cloudwatch.MathExpression(
            label="Runs that failed, timed out or were aborted",
            expression="failed + timedOut + aborted",
            using_metrics={
                "failed": state_machine.metric_failed(statistic="Sum"),
                "timedOut": state_machine.metric_timed_out(statistic="Sum"),
                "aborted": state_machine.metric_aborted(statistic="Sum"),
            },
            period=Duration.minutes(5),
        )
        self.alarm = ended_badly.create_alarm(
            self,
            "RunsFailedAlarm",
            alarm_description="A distillation run ended FAILED, TIMED_OUT or ABORTED (see the topic's notice)",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(cw_actions.SnsAction(topic))
        # Whatever lands in the queue is a drop that started no run or a failure nobody was told of.
        self.stuck_alarm = self.undelivered.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"
        ).create_alarm(
            self, "EventsNotHandledAlarm",
            alarm_description="An S3 drop or a failed-run event was not handled (see the UndeliveredEvents queue)",
            threshold=1, evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )  # fmt: skip
        self.stuck_alarm.add_alarm_action(cw_actions.SnsAction(topic))

    def _target(self, function: lambda_.IFunction, *, max_age: Duration) -> targets.LambdaFunction:
        """EventBridge retries a failed delivery 4 times, then keeps the event in the dead-letter queue."""
        return targets.LambdaFunction(
            function, retry_attempts=4, max_event_age=max_age, dead_letter_queue=self.undelivered
        )


@jsii.implements(lambda_.IDestination)
class _QueueDestination:
    """An SQS on-failure destination that grants the function exactly sqs:SendMessage on the queue (CDK's
    SqsDestination also grants GetQueueAttributes and GetQueueUrl, which Lambda does not use: "Amazon SQS queue |
    sqs:SendMessage", https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, _scope: Construct, fn: lambda_.IFunction, options: Any = None) -> lambda_.DestinationConfig:
        fn.add_to_role_policy(iam.PolicyStatement(sid="RecordFailedEvents", actions=["sqs:SendMessage"],
                                                  resources=[self.queue.queue_arn]))  # fmt: skip
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)
