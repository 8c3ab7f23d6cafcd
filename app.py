#!/usr/bin/env python3
"""CDK entry point: `make synth` (writes cdk.out/) or `cdk deploy` via cdk.json."""

import os

from stacks.app_builder import ROOT, build_app

if __name__ == "__main__":
    # The CLI sets CDK_OUTDIR; a plain `python app.py` writes next to this file, not to a temporary folder.
    app, _, _ = build_app(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    app.synth()
