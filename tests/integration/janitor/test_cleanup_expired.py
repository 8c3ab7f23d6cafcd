"""``distill cleanup --expired``: the janitor's sweep by hand, against the same account as the sweep's tests."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from distill_cli.commands import cleanup
from tests.support.janitor_account import BUCKET, OURS, T0, Account, expires


# --- distill cleanup --expired ---------------------------------------------------------------------------
def _args(**options: Any) -> argparse.Namespace:
    defaults = {"yes": False, "list": False, "unit_price": None, "expired": True, "json": False, "idle_hours": 24}
    return argparse.Namespace(**{**defaults, **options})


@pytest.fixture
def now_is_t0_plus_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI sweeps at the wall clock's time: make that T0 + 25 h."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return T0 + timedelta(hours=25)

    monkeypatch.setattr(cleanup, "datetime", Clock)


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_expired_and_other_serving_when_cleanup_expired_runs_with_yes_then_only_the_expired_is_deleted(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = account.throughput("expired-0", expires(T0))
    later = account.deployment("later-od-1", expires(T0 + timedelta(days=3)))
    committed = account.throughput("committed-2", expires(T0), commitment="SixMonths")
    theirs = account.throughput("theirs-3", {"team": "search", "distill:expires-at": "2026-11-01T00:00:00Z"})
    assert cleanup.run(_args(yes=True), ask=lambda q: pytest.fail("must not ask")) == 0
    assert account.bedrock.throughputs[expired].deleted
    assert not account.bedrock.deployments[later].deleted
    assert not account.bedrock.throughputs[committed].deleted and not account.bedrock.throughputs[theirs].deleted
    out = capsys.readouterr().out
    assert "deleted       throughput expired-0" in out and "theirs-3" not in out
    assert "kept          throughput committed-2  commitment (SixMonths)" in out
    assert "1 deleted, 0 would be deleted, 2 kept" in out
    assert account.notices() == []  # by hand: nothing published
    assert account.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0  # ... nor remembered


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_expired_serving_when_cleanup_expired_asks_then_only_what_is_confirmed_is_deleted(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    yes = account.throughput("yes-0", expires(T0))
    no = account.deployment("no-od-1", expires(T0))
    asked: list[str] = []
    assert cleanup.run(_args(), ask=lambda q: asked.append(q) or ("y" if "yes-0" in q else "n")) == 0
    assert asked == ["delete yes-0? [y/N] ", "delete no-od-1? [y/N] "]
    assert account.bedrock.throughputs[yes].deleted and not account.bedrock.deployments[no].deleted
    assert "kept          deployment no-od-1  declined" in capsys.readouterr().out


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_list_when_cleanup_expired_runs_then_it_shows_what_it_would_delete_and_deletes_nothing(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = account.throughput("expired-0", expires(T0))
    account.deployment("idle-od-1", OURS)
    assert cleanup.run(_args(list=True), ask=lambda q: pytest.fail("must not ask")) == 0
    assert not account.bedrock.throughputs[expired].deleted
    out = capsys.readouterr().out
    assert "would delete  throughput expired-0  expired 2026-11-20T00:00:00Z" in out
    assert "idle          deployment idle-od-1  no invocations in 24 h" in out


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_json_when_cleanup_expired_runs_then_stdout_is_the_sweeps_report(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account.throughput("expired-0", expires(T0))
    assert cleanup.run(_args(yes=True, json=True)) == 0
    report = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in report["deleted"]] == ["expired-0"]
    assert report["checked_at"] == "2026-11-21T01:00:00Z" and report["idle_warning_hours"] == 24


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_no_terminal_when_cleanup_expired_would_ask_then_it_deletes_nothing_and_exits_2(
    account: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = account.throughput("expired-0", expires(T0))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cleanup.run(_args()) == 2
    assert not account.bedrock.throughputs[expired].deleted
    assert "pass --yes" in capsys.readouterr().err


@pytest.mark.usefixtures("now_is_t0_plus_a_day")
def test_given_a_delete_that_fails_when_cleanup_expired_runs_then_it_exits_1(account: Account) -> None:
    account.throughput("expired-0", expires(T0))
    account.bedrock.fail_next("DeleteProvisionedModelThroughput", "AccessDeniedException")
    assert cleanup.run(_args(yes=True)) == 1
