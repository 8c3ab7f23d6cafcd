"""`cdk synth` with the CDK CLI pinned in package.json, started in the background when collection ends.

That synth takes about 15 s, nearly all of it in other processes (node, the app, pip, the CloudFormation
validator), so it overlaps the rest of the suite instead of holding one test worker for its whole length. Under
pytest-xdist every worker collects the suite: the first to reach :func:`start` runs the synth (a claim in the
run's shared directory, tests/support/shared_run.py), and the test, on whichever worker, waits for its exit code with
:func:`result`. The shell writes the exit code itself, so the synth finishes even if the worker that started it is
done before it. The process that owns the run calls :func:`stop` at the end: a synth nobody waited for is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import shared_run

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
PINNED = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
REGION, ACCOUNT = "eu-west-1", "123456789012"
TEST = "tests/infrastructure/test_infra_bundling.py::test_given_the_pinned_cli_with_a_region_and_account"
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Synth:
    returncode: int
    output: str
    outdir: Path


def directory() -> Path:
    return shared_run.directory() / "pinned-cli"


def missing() -> str:
    """Why the pinned CLI cannot run here ("" when it can)."""
    if not CDK.exists() or shutil.which("node") is None:
        return f"the pinned CDK CLI (aws-cdk {PINNED}) is not installed: run `make node_modules/.bin/cdk` (npm ci)"
    return ""


def environment(home: Path) -> dict[str, str]:
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
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "CDK_DISABLE_CLI_TELEMETRY": "true",  # and "cli-telemetry": false, "notices": false in cdk.json
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            # The CDK's CloudFormation validator (3 s of this synth) is make lint's gate: its synth runs it strictly.
            "CDK_VALIDATION": "false",
        }
    )
    return env


def start() -> bool:
    """Start the synth unless this test run already did (or the CLI is missing); True if this call started it."""
    if missing() or not shared_run.claim("pinned-cli"):
        return False
    home = directory()
    home.mkdir(parents=True, exist_ok=True)
    command = [str(CDK), "synth", "--quiet", "--no-notices", "-o", str(home / "cdk.out")]
    # One process group (start_new_session): the shell, the CLI, the app and pip, so stop() can end them all.
    # Niced: it takes the CPU the test workers leave (waits, the last worker's tail), not theirs.
    script = (f"nice -n 10 {shlex.join(command)} > {shlex.quote(str(home / 'output'))} 2>&1; "
              f"echo $? > {shlex.quote(str(home / 'rc.tmp'))} && mv {shlex.quote(str(home / 'rc.tmp'))} "
              f"{shlex.quote(str(home / 'rc'))}")  # fmt: skip
    shell = subprocess.Popen(["sh", "-c", script], cwd=ROOT, env=environment(home), start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    (home / "pid").write_text(str(shell.pid))
    return True


def result() -> Synth:
    """Wait for the synth this test run started (starting it now if nothing did) and return what it did."""
    start()
    home = directory()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not (home / "rc").exists():
        if time.monotonic() > deadline:
            output = (home / "output").read_text(errors="replace")[-3000:] if (home / "output").exists() else ""
            stop()
            raise TimeoutError(f"the pinned CLI's synth did not finish in {TIMEOUT_SECONDS} s:\n{output}")
        time.sleep(0.1)
    return Synth(int((home / "rc").read_text()), (home / "output").read_text(errors="replace"), home / "cdk.out")


def stop() -> None:
    """Stop the synth if it is still running (nobody waited for it) and remove what it wrote."""
    home = directory()
    pid = home / "pid"
    if pid.exists() and not (home / "rc").exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid.read_text()), signal.SIGTERM)
    shutil.rmtree(home, ignore_errors=True)
