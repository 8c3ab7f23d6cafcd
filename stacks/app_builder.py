"""Builds the app the same way for `python app.py`, `cdk synth`, the tests and the offline runner."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from stacks.compliance import add_compliance_checks
from stacks.config import PipelineConfig, from_context
from stacks.data_stack import DataStack
from stacks.pipeline_stack import PipelineStack

ROOT = Path(__file__).resolve().parent.parent
SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context: the CDK CLI passes it in, but a plain `python app.py` must read it itself."""
    path = ROOT / "cdk.json"
    return json.loads(path.read_text()).get("context", {}) if path.exists() else {}


def build_app(
    context: dict[str, Any] | None = None, outdir: str | None = None, validate_templates: bool = True
) -> tuple[App, DataStack, PipelineStack]:
    """``context`` overrides everything else (cdk.json, the CLI's -c options). ``validate_templates=False`` skips
    the CDK's built-in CloudFormation validator (a WebAssembly engine: about 2.5 s of a 4 s synth), for synths that
    only need the templates; `cdk synth` and `make lint` keep it."""
    app = App(context=cdk_json_context(), post_cli_context=context or None, outdir=outdir,
              builtin_cloud_formation_validation=validate_templates)  # fmt: skip
    config: PipelineConfig = from_context(app.node.get_all_context())
    # Environment-agnostic unless the CLI knows the account: synth needs no credentials.
    env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    data = DataStack(app, f"{config.stack_prefix}Data", config=config, env=env)
    pipeline = PipelineStack(app, f"{config.stack_prefix}Pipeline", bucket=data.bucket, config=config, env=env)
    if config.compliance_checks:
        add_compliance_checks(app)
    return app, data, pipeline
