"""The real local bundler: pip fetches wheels for Python 3.14 on arm64; no Docker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stacks.bundling import LocalPythonBundler


def test_given_a_broken_requirements_file_when_bundling_then_the_synth_fails_with_pip_output(tmp_path):
    (tmp_path / "requirements.txt").write_text("this is not a requirement ===\n")
    with pytest.raises(RuntimeError, match="pip exit") as caught:
        LocalPythonBundler(source=tmp_path).try_bundle(str(tmp_path / "out"), None)
    assert "requirements.txt" in str(caught.value) or "Invalid requirement" in str(caught.value)


@pytest.mark.bundling
def test_given_the_real_bundler_when_synthesized_then_the_asset_holds_pinned_arm64_dependencies_and_our_code(tmp_path):
    from stacks.app_builder import build_app

    app, _, _ = build_app(outdir=str(tmp_path))
    app.synth()
    (asset,) = [p for p in tmp_path.glob("asset.*") if (p / "handlers").is_dir()]
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
    assert os.path.isfile(Path(asset, "handlers", "__init__.py"))
