"""``make bench``: speed and peak memory of ``distill convert`` against the notebook's converter and a
per-record jsonschema validator, on the largest dataset Bedrock accepts (15,000 records, about 90 MB).

Every contender runs as its own subprocess; its peak RSS comes from os.wait4's rusage for that child.
Prints a markdown table (copied into README.md, "## Benchmark").
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from datagen import write_dataset  # noqa: E402

WORK = ROOT / ".bench"
PYTHON = sys.executable
SYSTEM = "You are a helpful, concise customer-support assistant."
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def measure(command: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time (s) and largest peak RSS (MiB) of ``command`` over ``repeat`` runs."""
    walls, peaks = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - started)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({child.returncode}): {child.stderr.read().decode()}")
        child.stderr.close()
        peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
    return min(walls), max(peaks)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as file:
        return sum(1 for _ in file)


def main() -> None:
    big = WORK / "big.jsonl"
    small = WORK / "small.jsonl"
    wide = WORK / "all-non-ascii.jsonl"
    for path, records, share in ((big, 15_000, 0.2), (small, 1_500, 0.2), (wide, 15_000, 1.0)):
        if not path.exists():
            write_dataset(path, records, share)
    distill = [PYTHON, "-m", "distill_cli.main"]
    cases = [
        (
            "notebook converter (json, line by line)",
            [PYTHON, str(ROOT / "bench/notebook_convert.py"), str(big), str(WORK / "notebook.jsonl"), SYSTEM],
            big,
        ),
        (
            "`distill convert` (convert + validate)",
            [*distill, "convert", str(big), str(WORK / "big.out.jsonl"), "--system-prompt", SYSTEM],
            big,
        ),
        (
            "`distill convert`, 10x smaller input",
            [*distill, "convert", str(small), str(WORK / "small.out.jsonl"), "--system-prompt", SYSTEM],
            small,
        ),
        (
            "`distill convert`, every record non-ASCII",
            [*distill, "convert", str(wide), str(WORK / "wide.out.jsonl"), "--system-prompt", SYSTEM],
            wide,
        ),
        ("`distill validate` (converted data)", [*distill, "validate", str(WORK / "big.out.jsonl")], None),
        (
            "jsonschema per record (converted data)",
            [PYTHON, str(ROOT / "bench/jsonschema_validate.py"), str(WORK / "big.out.jsonl")],
            None,
        ),
        ("python -c pass (interpreter alone)", [PYTHON, "-c", "pass"], None),
    ]
    rows = []
    results: dict[str, tuple[float, float]] = {}
    for label, command, data in cases:
        # The jsonschema contender takes close to a minute: once is enough to see the gap.
        wall, peak = measure(command, 1 if "jsonschema" in label else REPEAT)
        results[label] = (wall, peak)
        path = data or WORK / "big.out.jsonl"
        size = path.stat().st_size / 1e6 if "pass" not in label else 0.0
        records = _count_lines(path) if size else 0
        speed = f"{size / wall:.0f}" if size else "-"
        rows.append(f"| {label} | {records:,} | {size:.1f} | {wall:.2f} | {speed} | {peak:.1f} |")
        print(f"  measured: {label}: {wall:.2f} s, {peak:.1f} MiB", file=sys.stderr)

    notebook = results["notebook converter (json, line by line)"]
    ours = results["`distill convert` (convert + validate)"]
    ours_small = results["`distill convert`, 10x smaller input"]
    schema = results["jsonschema per record (converted data)"]
    ours_validate = results["`distill validate` (converted data)"]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {REPEAT} runs (jsonschema: 1 run).\n")
    print("| contender | records | input MB | wall s | MB/s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print(f"- convert+validate vs the notebook's bare converter: {notebook[0] / ours[0]:.1f}x faster")
    print(f"- validate vs per-record jsonschema: {schema[0] / ours_validate[0]:.1f}x faster")
    print(
        f"- peak RSS growth when the input grows 10x: {ours[1] / ours_small[1]:.2f}x "
        f"({ours_small[1]:.1f} -> {ours[1]:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
