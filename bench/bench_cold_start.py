"""``make bench`` (part): each Lambda handler's import time -- what Lambda bills as a cold start's init -- and
the peak memory of that import, measured the way Lambda starts a function: a fresh Python process importing
``handlers.<module>`` with the function's environment (tracing on, as deployed).

Target: every handler under 300 ms on these machines. Prints a markdown table (copied into README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
TARGET_MS = 300
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
PROBE = """
import importlib, json, resource, sys, time
started = time.perf_counter()
importlib.import_module("handlers." + sys.argv[1])
elapsed = time.perf_counter() - started
print(json.dumps({"ms": elapsed * 1000, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "xray": "aws_xray_sdk" in sys.modules, "boto3": "boto3" in sys.modules}))
"""


def handlers() -> list[str]:
    return sorted(p.stem for p in (LAMBDAS / "handlers").glob("*.py") if p.stem != "__init__")


def measure(module: str) -> dict[str, float | bool]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(LAMBDAS),
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-{module}",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "distill-pipeline",
        "POWERTOOLS_METRICS_NAMESPACE": "DistillPipeline",
        "LOG_LEVEL": "INFO",
    }
    runs = []
    for _ in range(REPEAT):
        out = subprocess.run([sys.executable, "-c", PROBE, module], env=env, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        runs.append(json.loads(out))
    best = min(runs, key=lambda r: r["ms"])
    return {**best, "rss_mib": max(r["rss_mib"] for r in runs)}


def main() -> int:
    print(f"Handler import time (best of {REPEAT}, fresh process each) and peak RSS of the import\n")
    print("| handler | import (ms) | peak RSS (MiB) | X-Ray SDK loaded | boto3 loaded |")
    print("|---|---:|---:|---|---|")
    slow = []
    for module in handlers():
        result = measure(module)
        print(f"| {module} | {result['ms']:.0f} | {result['rss_mib']:.0f} | {'yes' if result['xray'] else 'no'} "
              f"| {'yes' if result['boto3'] else 'no'} |")  # fmt: skip
        if float(result["ms"]) > TARGET_MS:
            slow.append(module)
    print(f"\nTarget: under {TARGET_MS} ms each" + (f"; over it: {', '.join(slow)}" if slow else ": met"))
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
