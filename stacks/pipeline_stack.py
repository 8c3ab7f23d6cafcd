"""The pipeline: the Bedrock role, the functions and the state machine that drives them."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.constructs import BedrockServiceRole, PipelineFunctions
from stacks.constructs.grants import log_locations
from stacks.constructs.log_groups import log_group
from stacks.constructs.operations import NotificationTopic, RunTriggers
from stacks.workflow import DistillationWorkflow


class PipelineStack(Stack):
    def __init__(self, scope: Construct, id: str, *, bucket: s3.IBucket, config: PipelineConfig, **kwargs) -> None:
        super().__init__(scope, id, description="Bedrock distillation pipeline: functions and state machine", **kwargs)
        layout = config.layout
        teachers = (*config.allowed_teacher_models, config.teacher_model_id)
        bedrock_role = BedrockServiceRole(self, "BedrockServiceRole", bucket=bucket, layout=layout, teachers=teachers,
                                          log_locations=log_locations(self, bucket, config))  # fmt: skip
        notifications = NotificationTopic(
            self, "Notifications", email=config.notification_email, key=bucket.encryption_key
        )
        functions = PipelineFunctions(
            self, "Functions", bucket=bucket, bedrock_role=bedrock_role.role, topic=notifications.topic,
            topic_key=notifications.key, config=config,
        )
        workflow = DistillationWorkflow(self, "Workflow", functions=functions, throttle=config.throttle_retry,
                                        backstop=config.job_backstop, default_system_prompt=config.system_prompt,
                                        evaluation_concurrency=config.evaluation_concurrency)  # fmt: skip

        # Every event (cdk-nag SF1) but without execution data: the prompts and system prompt that travel in the
        # state stay out of CloudWatch (the execution history keeps them for 90 days anyway).
        machine_logs = log_group(
            self,
            "StateMachineLogs",
            days=config.log_retention_days,
            key=bucket.encryption_key,
            name=f"/aws/vendedlogs/states/{self.stack_name}-distillation",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="Distil a student model from a teacher model on Amazon Bedrock",
            definition_body=sfn.DefinitionBody.from_chainable(workflow.definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.hours(config.execution_timeout_hours),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=machine_logs, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        functions.allow_runs_of(self.state_machine)
        triggers = RunTriggers(
            self,
            "Operations",
            bucket=bucket,
            drop_prefix=layout.drop_prefix,
            state_machine=self.state_machine,
            start_from_drop=functions.start_from_drop,
            notify_failure=functions.notify_failure,
            job_state_changed=functions.job_state_changed,
            janitor=functions.janitor,
            topic=notifications.topic,
        )
        self.topic = notifications.topic
        self.alarm = triggers.alarm
        self.bucket = bucket
        self.functions = functions
        self.bedrock_role = bedrock_role.role

        # BucketName and DropPrefix are outputs of the data stack (re-exporting an import is a cfn-lint W6001).
        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn,
                  description="Start a run here (distill start, or the Step Functions console)")  # fmt: skip
        CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn,
                  description="Subscribe here to hear how runs end")  # fmt: skip
