"""Synthesize the app for the offline world: the same ``build_app`` as ``cdk synth``, bundling skipped, cached
per context in this process."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Only bundling is skipped: waits, retries and timeouts are the deployed ones (the offline clock is virtual).
OFFLINE_CONTEXT: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


@dataclass(frozen=True)
class SynthesizedApp:
    """The templates of one synth, by stack name."""

    templates: Mapping[str, Mapping[str, Any]]
    data_stack: str
    pipeline_stack: str
    context: Mapping[str, Any]
    seconds: float
    outdir: str = ""  # the cloud assembly (cdk-nag's validation report, metadata); removed when the process ends
    app_context: Mapping[str, Any] | None = None  # the app's whole context (cdk.json with the overrides)


_CACHE: dict[str, SynthesizedApp] = {}
_LOCK = threading.Lock()


def merged_context(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = json.loads(json.dumps(OFFLINE_CONTEXT))
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(context.get(key), dict):
            context[key] = {**context[key], **value}
        else:
            context[key] = value
    return context


def synthesize(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> SynthesizedApp:
    """Synthesize the app (once per context in this process) and return its templates. The cloud assembly goes
    to ``outdir`` (kept), or to a temporary directory removed when the process ends."""
    full = merged_context(context)
    key = json.dumps(full, sort_keys=True)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _synthesize(full, outdir)
        return _CACHE[key]


def _synthesize(context: dict[str, Any], outdir: str | None) -> SynthesizedApp:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.monotonic()
    from stacks.app_builder import build_app

    if outdir is None:
        outdir = tempfile.mkdtemp(prefix="distill-offline-synth-")
        atexit.register(shutil.rmtree, outdir, True)
    # The world needs the templates only; the CloudFormation validator runs in `cdk synth` and `make lint`.
    app, data, pipeline = build_app(context=context, outdir=outdir, validate_templates=False)
    assembly = app.synth()
    templates = {
        stack.stack_name: assembly.get_stack_artifact(stack.artifact_id).template for stack in (data, pipeline)
    }
    return SynthesizedApp(templates, data.stack_name, pipeline.stack_name, context, time.monotonic() - started,
                          outdir, dict(app.node.get_all_context()))  # fmt: skip
