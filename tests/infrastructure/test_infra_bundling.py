"""`cdk synth` as a user runs it: the CDK CLI pinned in package.json, a configured region and account, no
credentials; and the real local bundler it drives (pip fetches wheels for Python 3.14 on arm64; no Docker).

This is the suite's one synth with real bundling (the other tests skip it through the
``aws:cdk:bundling-stacks`` context) and its one run of the CLI: with a region and account the CLI passes
concrete values into the stacks' environment, which the in-process synths do not do unless asked.
"""

from __future__ import annotations

import json
import os

import pytest

from stacks.bundling import LocalPythonBundler
from tests.infrastructure.conftest import acknowledged_rules
from tests.support import pinned_cli
from tests.support.pinned_cli import ACCOUNT, PINNED, REGION, ROOT


def test_given_a_broken_requirements_file_when_bundling_then_the_synth_fails_with_pip_output(tmp_path):
    (tmp_path / "requirements.txt").write_text("this is not a requirement ===\n")
    with pytest.raises(RuntimeError, match="pip exit") as caught:
        LocalPythonBundler(source=tmp_path).try_bundle(str(tmp_path / "out"), None)
    assert "requirements.txt" in str(caught.value) or "Invalid requirement" in str(caught.value)


@pytest.mark.bundling
def test_given_the_pinned_cli_with_a_region_and_account_when_it_synthesizes_then_the_gate_passes_and_the_asset_holds_pinned_arm64_dependencies_and_our_code(
    synth,
):
    # The synth started in the background when collection ended (tests/support/pinned_cli.py; tests/conftest.py).
    why = pinned_cli.missing()
    if why:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(why)
        pytest.skip(why)
    installed = json.loads((ROOT / "node_modules" / "aws-cdk" / "package.json").read_text())["version"]
    assert installed == PINNED, f"node_modules has aws-cdk {installed}, package.json pins {PINNED}: run `npm ci`"
    result = pinned_cli.result()
    try:
        _check(result, synth)
    finally:
        pinned_cli.stop()


def _check(result: pinned_cli.Synth, synth) -> None:
    outdir = result.outdir
    output = result.output
    findings = sorted({line.strip() for line in output.splitlines() if "Acknowledge with" in line})
    assert result.returncode == 0, "cdk synth failed\n" + "\n".join(findings) + "\n---\n" + output[-3000:]

    # The CLI passed the environment into the stacks, and the gate acknowledged what cdk-nag printed for it.
    manifest = json.loads((outdir / "manifest.json").read_text())
    environments = {a.get("environment") for a in manifest["artifacts"].values() if a["type"].endswith(":stack")}
    assert environments == {f"aws://{ACCOUNT}/{REGION}"}
    report = json.loads((outdir / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r.get("conclusion") == "failure"] == []
    # The same findings as the environment-agnostic synth, spelled with the concrete region and account.
    agnostic = {rule.replace("<AWS::Region>", REGION).replace("<AWS::AccountId>", ACCOUNT): reason
                for rule, reason in acknowledged_rules(synth.outdir).items()}  # fmt: skip
    assert acknowledged_rules(outdir) == agnostic
    assert f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:{REGION}:{ACCOUNT}:model-customization-job/*]" in agnostic

    (asset,) = [p for p in outdir.glob("asset.*") if (p / "handlers").is_dir()]
    names = {p.name for p in asset.iterdir()}
    assert "boto3-1.44.8.dist-info" in names
    assert "botocore-1.44.8.dist-info" in names
    wheel = (asset / "msgspec-0.22.0.dist-info" / "WHEEL").read_text()
    assert "cp314-cp314-manylinux" in wheel and "aarch64" in wheel
    assert list((asset / "msgspec").glob("_core.cpython-314-aarch64-linux-gnu.so"))
    assert (asset / "distill" / "settings.py").is_file()
    assert (asset / "handlers" / "start_job.py").is_file()
    assert "distill_cli" not in names
    assert not [p for p in asset.rglob("__pycache__")]
    assert not [p for p in asset.rglob("*.pyc")]
    assert (asset / "handlers" / "__init__.py").is_file()
