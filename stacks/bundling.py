"""Builds the Lambda asset on this machine, without Docker.

pip downloads the pinned wheels built for the Lambda platform (the runtime's Python on arm64) and the shared core
and handlers are copied next to them. If pip fails the synth fails with pip's output: returning False
would make the CDK fall back to Docker, which these machines do not have.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambdas"
# The newest Python runtime Lambda offers (cdk-nag AwsSolutions-L1); the wheels are fetched for the same one.
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = RUNTIME.name.removeprefix("python")
SOURCE_PACKAGES = ("distill", "handlers")
# Excluded from the asset hash and never copied: a stale .pyc must not change the asset.
EXCLUDE = ["__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache"]


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    def __init__(
        self, source: Path = LAMBDA_DIR, platform: str = "manylinux2014_aarch64", python: str = PYTHON_VERSION
    ):
        self.source = source
        self.platform = platform
        self.python = python

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:  # options: ONE positional (jsii)
        command = [
            sys.executable, "-m", "pip", "install",
            "-r", str(self.source / "requirements.txt"),
            "--target", output_dir,
            "--platform", self.platform,
            "--implementation", "cp",
            "--python-version", self.python,
            "--only-binary=:all:",
            "--no-compile",
            "--quiet",
            "--disable-pip-version-check",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"local bundling of {self.source} failed (pip exit {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        for package in SOURCE_PACKAGES:
            shutil.copytree(
                self.source / package,
                Path(output_dir) / package,
                ignore=shutil.ignore_patterns(*EXCLUDE),
                dirs_exist_ok=True,
            )
        return True


def bundling_options() -> BundlingOptions:
    # The image is required by the API but never pulled: the local bundler always succeeds or raises.
    return BundlingOptions(image=DockerImage.from_registry("unused-local-bundling-only"), local=LocalPythonBundler())
