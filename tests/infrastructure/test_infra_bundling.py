"""`cdk synth` as a user runs it: the CDK CLI pinned in package.json, a configured region and account, no
credentials; and the real local bundler it drives (pip fetches wheels for Python 3.14 on arm64; no Docker).

This is the suite's one synth with real bundling (the other tests skip it through the
``aws:cdk:bundling-stacks`` context) and its one run of the CLI: with a region and account the CLI passes
concrete values into the stacks' environment, which the in-process synths do not do unless asked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stacks.app_builder import ROOT
from stacks.bundling import LocalPythonBundler
from tests.infrastructure.conftest import acknowledged_rules

CDK = ROOT / "node_modules" / ".bin" / "cdk"
PINNED = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
REGION, ACCOUNT = "eu-west-1", "123456789012"


def test_given_a_broken_requirements_file_when_bundling_then_the_synth_fails_with_pip_output(tmp_path):
    (tmp_path / "requirements.txt").write_text("this is not a requirement ===\n")
    with pytest.raises(RuntimeError, match="pip exit") as caught:
        LocalPythonBundler(source=tmp_path).try_bundle(str(tmp_path / "out"), None)
    assert "requirements.txt" in str(caught.value) or "Invalid requirement" in str(caught.value)


def pinned_cli() -> Path:
    """The CLI from package.json; missing, the test skips on a workstation and fails in CI."""
    if not CDK.exists() or shutil.which("node") is None:
        why = f"the pinned CDK CLI (aws-cdk {PINNED}) is not installed: run `make node_modules/.bin/cdk` (npm ci)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(why)
        pytest.skip(why)
    installed = json.loads((ROOT / "node_modules" / "aws-cdk" / "package.json").read_text())["version"]
    assert installed == PINNED, f"node_modules has aws-cdk {installed}, package.json pins {PINNED}: run `npm ci`"
    return CDK


def cli_environment(tmp_path: Path) -> dict[str, str]:
    """A configured region, an account the CLI would have resolved from credentials, and no credentials at all
    (nothing from the caller's AWS or CDK settings leaks in)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    env.update(
        {
            # The CLI sets CDK_DEFAULT_REGION from the configured region (AWS_REGION, AWS_DEFAULT_REGION or the
            # profile; us-east-1 if none) and CDK_DEFAULT_ACCOUNT from the credentials; without credentials it
            # passes an already set CDK_DEFAULT_ACCOUNT through.
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "CDK_DEFAULT_REGION": REGION,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "CDK_DISABLE_CLI_TELEMETRY": "true",  # and "cli-telemetry": false, "notices": false in cdk.json
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
    )
    return env


@pytest.mark.bundling
def test_given_the_pinned_cli_with_a_region_and_account_when_it_synthesizes_then_the_gate_passes_and_the_asset_holds_pinned_arm64_dependencies_and_our_code(
    tmp_path, synth
):
    cdk, outdir = pinned_cli(), tmp_path / "cdk.out"
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--no-notices", "-o", str(outdir)],
        cwd=ROOT,
        env=cli_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
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
