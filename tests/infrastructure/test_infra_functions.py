"""The Lambda functions: runtime, handlers, sizing, settings, logs and tracing."""

from __future__ import annotations

import importlib.util
import json

from distill.settings import PipelineSettings, parse_settings
from stacks.constructs.functions import HANDLERS

EXPECTED = {
    "handlers.check_run_settings.handler": (60, 256),
    "handlers.prepare_dataset.handler": (900, 1024),
    "handlers.preview_invocation_logs.handler": (900, 1024),  # reads up to gigabytes of logs, streaming
    "handlers.prepare_evaluation.handler": (300, 512),
    "handlers.evaluate_batch.handler": (900, 256),  # up to 10 prompts x (student, teacher, judge + retries)
    "handlers.decide_verdict.handler": (300, 512),
    "handlers.promote_student.handler": (60, 256),
    "handlers.remove_serving.handler": (60, 256),
    "handlers.take_job_slot.handler": (60, 256),
    "handlers.back_off_job_slot.handler": (60, 256),
    "handlers.release_job_slot.handler": (60, 256),
    "handlers.start_job.handler": (60, 256),
    "handlers.await_job.handler": (60, 256),
    "handlers.job_state_changed.handler": (60, 256),
    "handlers.provision_throughput.handler": (60, 256),
    "handlers.check_throughput.handler": (60, 256),
    "handlers.deploy_on_demand.handler": (60, 256),
    "handlers.check_deployment.handler": (60, 256),
    "handlers.try_model.handler": (60, 256),
    "handlers.finish_run.handler": (60, 256),
    "handlers.start_from_drop.handler": (60, 256),
    "handlers.notify_failure.handler": (60, 256),
    "handlers.janitor.handler": (120, 256),
}


def _functions(synth):
    return {f["Properties"]["Handler"]: f["Properties"] for f in synth.resources("AWS::Lambda::Function").values()}


def test_given_default_config_when_synthesized_then_one_python314_arm64_function_per_handler(synth):
    functions = _functions(synth)
    assert set(functions) == set(EXPECTED)
    for handler, props in functions.items():
        assert props["Runtime"] == "python3.14", handler
        assert props["Architectures"] == ["arm64"], handler
        assert (props["Timeout"], props["MemorySize"]) == EXPECTED[handler], handler
        assert props["TracingConfig"] == {"Mode": "Active"}, handler


def test_given_the_handler_table_when_listed_then_every_module_exists_in_the_lambda_folder():
    for module in HANDLERS:
        assert importlib.util.find_spec(f"handlers.{module}") is not None, module


def test_given_default_config_when_synthesized_then_all_functions_share_one_code_asset(synth):
    keys = {json.dumps(props["Code"], sort_keys=True) for props in _functions(synth).values()}
    assert len(keys) == 1


def test_given_default_config_when_synthesized_then_every_function_gets_the_typed_pipeline_settings(synth):
    for handler, props in _functions(synth).items():
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "distill-pipeline"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "DistillPipeline"
        assert env["LOG_LEVEL"] == "INFO"
        # An Fn::Join around JSON: references become placeholders, the rest must parse as PipelineSettings.
        settings = parse_settings(synth.flatten(env["PIPELINE_SETTINGS"]))
        assert isinstance(settings, PipelineSettings), handler
        assert settings.bucket_name == "<import:DistillData:ExportsOutputRefBucket83908E7781C90AC0>"
        assert settings.bedrock_role_arn.startswith("<BedrockServiceRole")
        assert settings.defaults == synth.config.defaults
        assert settings.polling == synth.config.polling
        assert settings.teacher_models == synth.config.allowed_teacher_models
        assert settings.student_models == synth.config.allowed_student_models
        assert settings.layout.drop_prefix == "incoming/"
        assert settings.max_concurrent_jobs == synth.config.max_concurrent_jobs == "auto"
        assert settings.idle_warning_hours == synth.config.idle_warning_hours == 24


def test_given_default_config_when_synthesized_then_each_function_logs_to_its_own_group_with_retention(synth):
    groups = synth.resources("AWS::Logs::LogGroup")
    used = {props["LoggingConfig"]["LogGroup"]["Ref"] for props in _functions(synth).values()}
    assert len(used) == len(EXPECTED)
    for name in used:
        assert groups[name]["Properties"]["RetentionInDays"] == synth.config.log_retention_days
