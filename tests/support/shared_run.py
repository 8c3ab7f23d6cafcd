"""A directory per test run that every pytest-xdist worker of the run shares (for work done once for all).

The process that owns the run (xdist's controller, or pytest alone) names it before any worker starts -- workers
inherit the variable -- and removes it when pytest ends (tests/conftest.py). Within it, :func:`claim` is an
exclusive lock: the first process to claim a name does the work, the others wait for its result.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

RUN_VARIABLE = "DISTILL_TEST_RUN"


def own_run() -> None:
    os.environ[RUN_VARIABLE] = uuid.uuid4().hex


def directory() -> Path:
    if RUN_VARIABLE not in os.environ:
        own_run()
    home = Path(tempfile.gettempdir()) / f"distill-test-run-{os.environ[RUN_VARIABLE]}"
    home.mkdir(parents=True, exist_ok=True)
    return home


def claim(name: str) -> bool:
    """True for the first process of the run to claim ``name``."""
    try:
        os.close(os.open(directory() / f"{name}.claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def once(name: str, make: Callable[[], Any], timeout: float = 600) -> Any:
    """``make()``'s JSON result, made by the first process of the run to ask; the others wait for it (and get
    the error if making it failed)."""
    result = directory() / f"{name}.json"
    if claim(name):
        try:
            value = {"ok": make()}
        except Exception as error:
            result.with_suffix(".tmp").write_text(json.dumps({"error": f"{type(error).__name__}: {error}"}))
            result.with_suffix(".tmp").replace(result)
            raise
        result.with_suffix(".tmp").write_text(json.dumps(value))
        result.with_suffix(".tmp").replace(result)
        return value["ok"]
    deadline = time.monotonic() + timeout
    while not result.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: the worker making it did not finish in {timeout:.0f} s")
        time.sleep(0.05)
    value = json.loads(result.read_text())
    if "error" in value:
        raise RuntimeError(f"{name} failed in another worker: {value['error']}")
    return value["ok"]


def clean() -> None:
    if RUN_VARIABLE in os.environ:
        shutil.rmtree(Path(tempfile.gettempdir()) / f"distill-test-run-{os.environ[RUN_VARIABLE]}", ignore_errors=True)
