"""The offline trace says in a few words what each task did (distill_cli.offline.trace.facts)."""

from __future__ import annotations

import pytest

from distill_cli.offline.trace import facts


@pytest.mark.parametrize(("result", "says"), [
    ({"slot": "queued", "position": 3, "answered": False, "limit": 2, "limitSource": "config"},
     "#3 in line (limit 2, config); waiting to be answered"),
    ({"slot": "granted", "position": 0, "waited": True, "waitedSeconds": 7200, "limit": 2},
     "job slot granted after 2h00m00s in line (limit 2)"),
    ({"released": True, "leftTheLine": False, "handedTo": ["run-b"], "limit": 2, "limitSource": "quota-applied"},
     "slot given back; handed to run-b (limit 2, quota-applied)"),
    ({"released": False, "leftTheLine": True, "handedTo": [], "limit": 2, "limitSource": "fallback"},
     "left the line (limit 2, fallback)"),
    ({"attempt": 2, "waitSeconds": 600, "released": True, "limit": 3, "limitSource": "config"},
     "slot given back; queueing again in 600s (back-off 2, limit 3, config)"),
    ({"prompts": 20, "promptsUri": "s3://b/reports/r/evaluation/prompts.jsonl", "skipped": ""},
     "20 prompts to answer and judge -> s3://b/reports/r/evaluation/prompts.jsonl"),
    ({"batch": 1, "prompts": 10, "scored": 9, "unscored": 1}, "batch 1: 9 of 10 prompts scored"),
    ({"something": "new", "empty": "", "count": 3}, "something=new, count=3"),
])  # fmt: skip
def test_given_a_task_result_when_traced_then_the_line_says_what_it_did(result, says):
    assert facts(result) == says
