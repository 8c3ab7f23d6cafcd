"""``make bench-logs``: speed and peak memory of ``distill logs profile`` / ``export`` on 100,000 invocation log
records (gzipped NDJSON files in Bedrock's S3 layout), against reading the same files with ``json.loads`` line
by line (which only decodes; it counts nothing).

Every contender runs as its own subprocess, once per round (so a busy machine slows them all alike); its CPU
time and peak RSS come from os.wait4's rusage for that child. CPU time is the fairer measure on a shared machine.
Memory must stay flat: the same profile on 10x fewer records is measured too. Prints a markdown table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"
PYTHON = sys.executable
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
SUPPORT = '{"equals": {"use-case": "support"}}'
NARROW = '{"andAll": [{"equals": {"use-case": "returns"}}, {"equals": {"priority": "high"}}]}'
# The baseline: gunzip and json.loads every line, nothing else.
JSON_LOADS = """
import gzip, json, pathlib, sys
count = 0
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.json.gz")):
    with gzip.open(path, "rb") as file:
        for line in file:
            if line.strip():
                json.loads(line)
                count += 1
print(count)
"""


def run_once(command: list[str]) -> tuple[float, float, float, int]:
    """Wall time (s), CPU time (user + system, s), peak RSS (MiB) and exit status of one run of ``command``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, raw, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    status = os.waitstatus_to_exitcode(raw)
    error = child.stderr.read().decode() if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if status not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({status}): {error}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, status  # ru_maxrss: KiB on Linux


def _tree(path: Path) -> tuple[int, float]:
    files = list(path.rglob("*.json.gz"))
    return len(files), sum(f.stat().st_size for f in files) / 1e6


def main() -> None:
    big, small = WORK / "logs-100k", WORK / "logs-10k"
    for path, records in ((big, 100_000), (small, 10_000)):
        if not path.exists():
            print(f"  generating {records:,} records into {path.relative_to(ROOT)} ...", file=sys.stderr)
            # In a child process: the parent stays small, and so does the peak RSS its children inherit.
            subprocess.run(
                [PYTHON, str(ROOT / "bench" / "logsgen.py"), "--traffic", str(path), str(records)], check=True
            )
    distill = [PYTHON, "-m", "distill_cli.main", "logs"]
    out = WORK / "logs-export.jsonl"
    profile = ["--filter", SUPPORT, "--use-prompt-response"]
    cases = [
        ("json.loads line by line (decode only)", [PYTHON, "-c", JSON_LOADS, str(big)], big, 100_000),
        ("`distill logs profile` (support filter)", [*distill, "profile", str(big), *profile], big, 100_000),
        ("`distill logs profile`, 10x fewer records", [*distill, "profile", str(small), *profile], small, 10_000),
        (
            "`distill logs export` (returns + high)",
            [*distill, "export", str(big), str(out), "--filter", NARROW],
            big,
            100_000,
        ),
        ("python -c pass (interpreter alone)", [PYTHON, "-c", "pass"], None, 0),
    ]
    # Rounds: every contender once per round, so a busy machine slows them all alike; the best of the rounds.
    best: dict[str, tuple[float, float, float, int]] = {}
    for _ in range(REPEAT):
        for label, command, _, _ in cases:
            wall, cpu, peak, status = run_once(command)
            old = best.get(label)
            best[label] = (
                (min(wall, old[0]), min(cpu, old[1]), max(peak, old[2]), status) if old else (wall, cpu, peak, status)
            )
    rows, results = [], {}
    for label, _, data, records in cases:
        wall, cpu, peak, status = best[label]
        results[label] = (wall, cpu, peak)
        files, size = _tree(data) if data else (0, 0.0)
        speed = f"{records / cpu:,.0f}" if records else "-"
        rows.append(f"| {label} | {records:,} | {files} | {size:.1f} | {wall:.2f} | {cpu:.2f} | {speed} | {peak:.1f} |")
        print(
            f"  measured: {label}: {wall:.2f} s wall, {cpu:.2f} s CPU, {peak:.1f} MiB (exit {status})", file=sys.stderr
        )

    baseline = results["json.loads line by line (decode only)"]
    ours = results["`distill logs profile` (support filter)"]
    ours_small = results["`distill logs profile`, 10x fewer records"]
    load = os.getloadavg()[0]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs (load {load:.1f}), best of {REPEAT} rounds.\n")
    print("| contender | records | files | gzip MB | wall s | CPU s | records/CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print(
        f"- profile vs bare json.loads: {baseline[1] / ours[1]:.2f}x less CPU, {baseline[0] / ours[0]:.2f}x "
        "less wall time"
    )
    print(
        f"- peak RSS growth when the input grows 10x: {ours[2] / ours_small[2]:.2f}x "
        f"({ours_small[2]:.1f} -> {ours[2]:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
