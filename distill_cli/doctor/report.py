"""The doctor's findings: one row per check (check, status, detail, fix), shown as a table or as JSON, and the
verdict: READY (exit 0, warnings allowed) or NOT READY (exit 1)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TextIO

Status = Literal["ok", "warn", "FAIL"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "FAIL")
# Column widths of the table (detail and fix wrap inside theirs).
CHECK_WIDTH, DETAIL_WIDTH, FIX_WIDTH = 30, 58, 58


@dataclass(frozen=True)
class Check:
    check: str
    status: Status
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.status == "FAIL" and not self.fix:
            raise ValueError(f"a failing check says how to fix it: {self.check}")


def ok(check: str, detail: str) -> Check:
    return Check(check, "ok", detail)


def warn(check: str, detail: str, fix: str = "") -> Check:
    return Check(check, "warn", detail, fix)


def fail(check: str, detail: str, fix: str) -> Check:
    return Check(check, "FAIL", detail, fix)


def could_not_check(check: str, what: str, error: str, fix: str) -> Check:
    """A check that could not run is a failure: READY must mean "checked and ready"."""
    return fail(check, f"could not check {what}: {error}", fix)


def ready(checks: Iterable[Check]) -> bool:
    return all(c.status != "FAIL" for c in checks)


def verdict(checks: Sequence[Check]) -> str:
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    if failed:
        return f"NOT READY: {failed} check(s) failed" + (f", {warned} warning(s)" if warned else "")
    return "READY" + (f" ({warned} warning(s))" if warned else "")


def exit_code(checks: Sequence[Check]) -> int:
    return 0 if ready(checks) else 1


def _cell(text: str, width: int) -> list[str]:
    # ARNs have no spaces: let them break anywhere rather than overflow the column.
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def table(checks: Sequence[Check]) -> list[str]:
    """The rows as an aligned text table; detail and fix wrap within their columns."""
    check_width = min(CHECK_WIDTH, max([len("CHECK"), *(len(c.check) for c in checks)]))
    lines = [f"{'CHECK':<{check_width}}  {'STATUS':<6}  {'DETAIL':<{DETAIL_WIDTH}}  FIX".rstrip()]
    for c in checks:
        cells: list[list[str]] = [_cell(c.check, check_width), [c.status], _cell(c.detail, DETAIL_WIDTH),
                                  _cell(c.fix, FIX_WIDTH)]
        for row in range(max(len(cell) for cell in cells)):
            parts = [cell[row] if row < len(cell) else "" for cell in cells]
            line = f"{parts[0]:<{check_width}}  {parts[1]:<6}  {parts[2]:<{DETAIL_WIDTH}}  {parts[3]}"
            lines.append(line.rstrip())
    return lines


def as_json(checks: Sequence[Check], about: dict[str, Any]) -> str:
    return json.dumps({**about, "ready": ready(checks), "verdict": verdict(checks),
                       "checks": [asdict(c) for c in checks]}, indent=2)  # fmt: skip


def write(checks: Sequence[Check], out: TextIO, heading: str, about: dict[str, Any], *, as_json_output: bool) -> None:
    if as_json_output:
        out.write(as_json(checks, about) + "\n")
        return
    out.write(heading + "\n\n")
    for line in table(checks):
        out.write(line + "\n")
    out.write("\n" + verdict(checks) + "\n")
