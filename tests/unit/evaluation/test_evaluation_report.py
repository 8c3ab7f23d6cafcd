"""The HTML report: self-contained, escaped, deterministic, small; and Bedrock's loss CSV read robustly."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest

from distill.evaluation import report, training_metrics
from distill.evaluation.calls import Call
from distill.evaluation.config import BUILTIN_METRICS
from distill.evaluation.results import PromptResult
from distill.evaluation.verdict import decide, summarize
from tests.support.screenshot import CHROMIUM, NO_CHROMIUM, assert_report_screenshot
from tests.unit.evaluation.evaluation_helpers import MODELS, NAMES, gate, scored, unscored

HOSTILE = '<script>alert("x")</script><img src="https://evil.example/p.png"> & <style>@import url(http://x)</style>'
LOSS_CSV = (
    "\ufeffstep_number,epoch_number,training_loss,learning_rate\r\n"
    "1,0,2.5,0.0001\r\n\r\n"
    "2,0,2.25,0.0001\r\n"
    "3,1,1.75,0.0001\r\n"
    "4.0,1,1.5,0.0001\r\n"
)
BUDGET = 1024 * 1024  # bytes of HTML for 500 prompts, worst case


def render(rows: list[PromptResult], curve_csv: str = LOSS_CSV, run_id: str = "run-1", **changes) -> str:
    g = gate()
    evaluation = summarize(rows, NAMES, MODELS, {}, resamples=200)
    data = report.ReportInput(
        run_id=run_id,
        models=MODELS,
        evaluation=evaluation,
        verdict=decide(evaluation, g),
        gate=g,
        results=rows,
        curve=training_metrics.parse(curve_csv),
        dataset={"recordsRead": 1000, "recordsWritten": 950, "recordsDropped": 0},
        held_out=50,
        descriptions=BUILTIN_METRICS,
        **changes,
    )
    return report.render(data)


def sample(count: int = 30, text: str = "answer") -> list[PromptResult]:
    rng = random.Random(3)
    rows = []
    for i in range(count):
        row = scored(i, rng.randint(2, 5), rng.randint(3, 5), latency=(rng.randint(200, 900), rng.randint(900, 5000)))
        rows.append(
            PromptResult(**{**_fields(row), "student": Call(text=f"{text} s{i}", latency_ms=row.student.latency_ms)})
        )
    return [*rows, unscored(count)]


def _fields(row: PromptResult) -> dict:
    return {f: getattr(row, f) for f in row.__struct_fields__}


def test_given_a_loss_file_when_reported_then_every_loss_point_is_drawn() -> None:
    html = render(sample())
    svg = re.search(r'<svg class="chart"[^>]*data-points="(\d+)"><title>training loss by step</title>(.*?)</svg>', html)
    assert svg and svg.group(1) == "4"
    points = re.search(r'<polyline class="series"[^>]*points="([^"]+)"', svg.group(2))
    assert points and len(points.group(1).split()) == 4
    assert "epoch 1" in svg.group(2) and "4 steps; first loss 2.5, final loss 1.5." in html


def test_given_hostile_prompts_and_answers_when_reported_then_everything_is_escaped() -> None:
    rows = [
        PromptResult(
            **{**_fields(scored(i, 1, 5, prompt=HOSTILE + str(i))), "teacher": Call(text=HOSTILE, latency_ms=9)}
        )
        for i in range(3)
    ]
    html = render(rows, run_id="<b>run</b>")
    assert "<script" not in html and "<img" not in html and "<b>run</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert html.count("<style>") == 1


class Tags(HTMLParser):
    """Every tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag) -> None:
        self._in_style = False

    def handle_data(self, data) -> None:
        if self._in_style:
            self.styles.append(data)


def test_given_any_report_when_rendered_then_it_references_no_external_resource() -> None:
    html = render([scored(0, 1, 5, prompt=HOSTILE)])
    parsed = Tags()
    parsed.feed(html)
    names = {tag for tag, _ in parsed.tags}
    assert names.isdisjoint({"script", "img", "link", "iframe", "object", "embed", "image", "use", "a", "base"})
    for _, attrs in parsed.tags:
        assert attrs.keys().isdisjoint({"src", "href", "xlink:href", "action", "formaction", "srcset", "poster"})
        assert not any("url(" in (value or "") for value in attrs.values())
    assert len(parsed.styles) == 1 and "url(" not in parsed.styles[0] and "@import" not in parsed.styles[0]
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "http" not in render(sample()).replace('http-equiv="Content-Security-Policy"', "")


def test_given_the_same_results_in_any_order_when_rendered_then_the_bytes_are_the_same() -> None:
    rows = sample()
    shuffled = rows[:]
    random.Random(9).shuffle(shuffled)
    assert render(rows) == render(list(rows)) == render(shuffled)


def test_given_results_when_reported_then_the_ten_worst_losses_are_shown_with_both_answers() -> None:
    rows = [scored(i, 5, 5) for i in range(30)] + [scored(30 + i, 5 - i % 4, 5) for i in range(12)]
    worst = report.worst(rows)
    assert [r.margin() for r in worst] == [9, 9, 9, 6, 6, 6, 3, 3, 3] and worst[0].index == 33
    html = render(rows)
    assert "Where the student lost most (9)" in html and "student answer 33" in html and "teacher answer 33" in html


def test_given_500_prompts_with_huge_answers_when_rendered_then_the_report_stays_under_its_budget() -> None:
    nasty = "<&>\"'" * 20_000  # escaping makes it longer
    rows = [
        PromptResult(
            **{
                **_fields(scored(i, 1 + i % 5, 5, prompt=nasty)),
                "student": Call(text=nasty, latency_ms=100 + i),
                "teacher": Call(text=nasty, latency_ms=1000 + i),
            }
        )
        for i in range(500)
    ]
    html = render(
        rows,
        curve_csv="step_number,epoch_number,training_loss\n"
        + "".join(f"{s},{s // 1000},{1 / s}\n" for s in range(1, 20_001)),
    )
    assert len(html.encode()) < BUDGET, len(html.encode())
    assert "more characters)" in html


def test_given_500_ordinary_prompts_when_rendered_then_the_report_is_small() -> None:
    rows = [scored(i, 1 + i % 5, 5, prompt="How do I reset my password? " * 20) for i in range(500)]
    assert len(render(rows).encode()) < 128 * 1024


@pytest.mark.parametrize(
    ("csv", "steps", "skipped"),
    [
        ("training_loss,step_number,epoch_number\n0.5,1,0\n0.4,2,0\n", [1, 2], 0),  # columns in another order
        ("step_number,training_loss\n\n\n2,0.4\n1,0.5\n", [1, 2], 0),  # blank lines, unsorted, no epoch
        ("STEP_NUMBER , Training_Loss\n1 , 0.5\n", [1], 0),  # case and spaces
        ("step_number,epoch_number,training_loss\n1,0,nan\n2,0,\nx,0,1\n3,0,0.2\n4\n1.5,0,1\n", [3], 5),
    ],
)
def test_given_a_loss_file_in_any_shape_when_parsed_then_valid_rows_are_read_and_the_rest_counted(csv, steps, skipped):
    curve = training_metrics.parse(csv.encode())
    assert [p.step for p in curve.points] == steps and curve.skipped_rows == skipped and not curve.problem


def test_given_no_usable_loss_file_when_parsed_then_the_report_says_so_instead_of_a_chart() -> None:
    assert training_metrics.parse("").problem == "the training metrics file is empty"
    assert "no step_number" in training_metrics.parse("a,b\n1,2\n").problem
    assert "Loss curve: no step_number and training_loss columns in the header." in render(
        sample(), curve_csv="a,b\n1,2\n"
    )


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_given_a_report_when_headless_chromium_renders_it_at_1280px_then_the_charts_are_drawn(tmp_path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(sample()), encoding="utf-8")
    assert_report_screenshot(page, tmp_path)
