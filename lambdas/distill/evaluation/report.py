"""The evaluation report: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

It shows the verdict with its intervals, the training loss curve, the dataset totals, the score distributions
per metric, latency and cost side by side, and the ten prompts the student lost most, with both answers.
Every text that comes from the data or the run is HTML-escaped, and a Content-Security-Policy forbids loading
anything. The same inputs always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from distill.evaluation import charts
from distill.evaluation.results import PromptResult
from distill.evaluation.training_metrics import TrainingCurve
from distill.evaluation.verdict import Evaluation, Gate, Models, Verdict

STUDENT, TEACHER = "#0f766e", "#c2410c"
WORST = 10
MAX_SHOWN_CHARS = 4000  # of each prompt or answer in the report
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS = """
*{box-sizing:border-box}body{margin:0;background:#f9fafb;color:#111827;font:15px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif}main{max-width:1200px;margin:0 auto;padding:24px 32px 48px}h1{font-size:26px;
margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
h3{font-size:15px;margin:0 0 6px}.meta{color:#4b5563;margin:0}.verdict{border-left:6px solid;padding:12px 16px;
background:#fff;margin-top:16px}.pass{border-color:#15803d}.fail{border-color:#b91c1c}.verdict strong{font-size:18px}
table{border-collapse:collapse;background:#fff;margin:8px 0}th,td{border:1px solid #e5e7eb;padding:4px 10px;
text-align:right;vertical-align:top;white-space:nowrap}th{white-space:normal}th:first-child,td:first-child{text-align:left}td.text{text-align:left;white-space:normal}
.grid{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:16px}.card{background:#fff;
border:1px solid #e5e7eb;padding:12px}.chart{max-width:100%;height:auto;display:block}.legend{margin:4px 0 12px}
.key{margin-right:16px}.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px}.side{display:grid;
grid-template-columns:440px minmax(0,1fr);gap:24px;align-items:start}pre{white-space:pre-wrap;
word-break:break-word;background:#f3f4f6;padding:8px;margin:4px 0;max-height:22em;overflow:auto;
font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}.lost{margin-bottom:18px}.bad{color:#b91c1c}
.good{color:#15803d}.note{color:#4b5563;font-size:13px}
"""


@dataclass(frozen=True)
class ReportInput:
    run_id: str
    models: Models
    evaluation: Evaluation
    verdict: Verdict
    gate: Gate
    results: Sequence[PromptResult]
    curve: TrainingCurve | None = None
    dataset: Mapping[str, Any] = field(default_factory=dict)  # the validation report (camelCase counts)
    held_out: int | None = None  # records kept out of training (None: a separate evaluation file)
    descriptions: Mapping[str, str] = field(default_factory=dict)  # metric -> what the judge was told


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _clip(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return _e(text)
    return f"{_e(text[:MAX_SHOWN_CHARS])}\n… ({len(text) - MAX_SHOWN_CHARS:,} more characters)"


def _money(value: float | str) -> str:
    return _e(value) if isinstance(value, str) else f"${value:,.4f}"


def _ms(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value / 1000:.2f} s"


def worst(results: Sequence[PromptResult], count: int = WORST) -> list[PromptResult]:
    """The scored prompts the student lost by the most points (summed over metrics), ties by index."""
    lost = [r for r in results if r.scores is not None and r.margin() > 0]
    return sorted(lost, key=lambda r: (-r.margin(), r.index))[:count]


def _verdict(data: ReportInput) -> str:
    v, ev, gate = data.verdict, data.evaluation, data.gate
    head = "Passed: the student may be promoted" if v.passed else f"Not promoted: {v.error}"
    rows = []
    for m in ev.metrics:
        gated = m.name in gate.metrics
        mark = ("fails" if m.name in v.failing else "passes") if gated else "not gated"
        css = "bad" if m.name in v.failing else "good" if gated else "note"
        rows.append(
            f"<tr><td>{_e(m.name)}</td><td>{m.student_mean:.2f}</td><td>{m.teacher_mean:.2f}</td>"
            f"<td>{m.ratio:.3f}</td><td>{m.ci_low:.3f} &ndash; {m.ci_high:.3f}</td><td>{m.wins} / {m.ties} / {m.losses}</td>"
            f'<td class="{css}">{mark}</td></tr>'
        )
    basis = "95% CI lower bound" if gate.on == "ciLower" else "share of the teacher's score (point estimate)"
    return (
        f'<section class="verdict {"pass" if v.passed else "fail"}"><strong>{_e(head)}</strong>'
        f"<p>{_e(v.cause)}</p><p class=note>Gate: {_e(basis)} ≥ {gate.min_quality_ratio:g} for every gated metric; "
        f"{ev.scored} of {ev.prompts} prompts scored; {ev.judge_calls} judge calls.</p></section>"
        "<table><tr><th>metric</th><th>student mean</th><th>teacher mean</th><th>student / teacher</th>"
        "<th>95% CI (bootstrap)</th><th>wins / ties / losses</th><th>gate</th></tr>" + "".join(rows) + "</table>"
    )


def _training(data: ReportInput) -> str:
    curve = data.curve
    out = ["<h2>Training</h2>"]
    if curve is None or not curve.points:
        why = curve.problem if curve is not None and curve.problem else "no training metrics were found"
        out.append(f"<p class=note>Loss curve: {_e(why)}.</p>")
    else:
        points = [(float(p.step), p.loss) for p in curve.points]
        markers, seen = [], curve.points[0].epoch
        for p in curve.points[1:]:
            if p.epoch is not None and p.epoch != seen:
                markers.append((float(p.step), f"epoch {p.epoch}"))
                seen = p.epoch
        out.append(charts.line_chart(points, "step", "training loss", markers, color=STUDENT))
        skipped = f", {curve.skipped_rows} unreadable rows skipped" if curve.skipped_rows else ""
        out.append(
            f"<p class=note>{len(curve.points)} steps; first loss {curve.points[0].loss:.4g}, final loss "
            f"{curve.points[-1].loss:.4g}{skipped}.</p>"
        )
    d = data.dataset
    rows = [("records read", d.get("recordsRead")), ("records written", d.get("recordsWritten")),
            ("records dropped", d.get("recordsDropped"))]  # fmt: skip
    if data.held_out is not None:
        rows.append(("held out for evaluation", data.held_out))
    cells = "".join(f"<tr><td>{_e(k)}</td><td>{'&ndash;' if v is None else _e(v)}</td></tr>" for k, v in rows)
    source = "" if data.held_out is not None else "<p class=note>Evaluation prompts came from a separate file.</p>"
    out.append(f"<h3>Dataset</h3><table>{cells}</table>{source}")
    return "".join(out)


def _scores(data: ReportInput) -> str:
    series_keys = [charts.Series("student", STUDENT, ()), charts.Series("teacher", TEACHER, ())]
    cards = []
    for m in data.evaluation.metrics:
        series = [
            charts.Series("student", STUDENT, m.student_histogram),
            charts.Series("teacher", TEACHER, m.teacher_histogram),
        ]
        chart = charts.grouped_bars(["1", "2", "3", "4", "5"], series, "score (prompts per score)")
        about = data.descriptions.get(m.name, "")
        cards.append(f'<div class="card"><h3>{_e(m.name)}</h3>{chart}<p class=note>{_e(about)}</p></div>')
    return "<h2>Score distributions</h2>" + charts.legend(series_keys) + f'<div class="grid">{"".join(cards)}</div>'


def _speed_and_cost(data: ReportInput) -> str:
    ev, lat = data.evaluation, data.evaluation.latency
    series = [
        charts.Series("student", STUDENT, [(lat.student_p50 or 0) / 1000, (lat.student_p95 or 0) / 1000]),
        charts.Series("teacher", TEACHER, [(lat.teacher_p50 or 0) / 1000, (lat.teacher_p95 or 0) / 1000]),
    ]
    chart = charts.grouped_bars(["p50", "p95"], series, "latency (seconds, nearest rank)", width=420)
    rows = []
    for who, p50, p95 in (("student", lat.student_p50, lat.student_p95), ("teacher", lat.teacher_p50, lat.teacher_p95)):
        use = ev.usage[who]
        rows.append(
            f"<tr><td>{who}</td><td>{_ms(p50)}</td><td>{_ms(p95)}</td><td>{use.mean_input:.0f} / "
            f"{use.mean_output:.0f}</td><td>{_money(ev.per_1k_requests[who])}</td></tr>"
        )
    spent = "".join(f"<tr><td>{_e(k)}</td><td>{_money(v)}</td></tr>" for k, v in ev.spent.items())
    return (
        "<h2>Latency and cost</h2>" + charts.legend(series) + '<div class="side"><div>' + chart + "</div><div>"
        "<table><tr><th>model</th><th>p50</th><th>p95</th><th>tokens in / out (mean)</th>"
        "<th>USD per 1,000 requests</th></tr>" + "".join(rows) + "</table>"
        f"<p class=note>Student {_e(data.models.student)}, teacher {_e(data.models.teacher)}.</p>"
        f"<h3>What this evaluation cost (USD)</h3><table>{spent}</table><p class=note>From the measured token counts "
        'and the run\'s price table; "unknown" where a model has no price.</p></div></div>'
    )


def _lost(data: ReportInput) -> str:
    chosen = worst(data.results)
    out = [f"<h2>Where the student lost most ({len(chosen)})</h2>"]
    if not chosen:
        out.append("<p class=note>The student lost no scored prompt.</p>")
    for r in chosen:
        scores = "".join(
            f"<tr><td>{_e(name)}</td><td>{s.student}</td><td>{s.teacher}</td><td class=text>{_e(s.reason)}</td></tr>"
            for name, s in (r.scores or {}).items()
        )
        out.append(
            f'<div class="lost card"><h3>Prompt {r.index}: lost by {r.margin()} points</h3><pre>{_clip(r.prompt)}</pre>'
            f'<div class="pair"><div><h3>Student</h3><pre>{_clip(r.student.text)}</pre></div>'
            f"<div><h3>Teacher</h3><pre>{_clip(r.teacher.text)}</pre></div></div><table><tr><th>metric</th>"
            f"<th>student</th><th>teacher</th><th>judge's reason</th></tr>{scores}</table></div>"
        )
    if data.evaluation.unscored:
        kinds = "".join(f"<tr><td>{_e(k)}</td><td>{n}</td></tr>" for k, n in data.evaluation.unscored.items())
        out.append(f"<h3>Unscored prompts (they count for nobody)</h3><table>{kinds}</table>")
    return "".join(out)


def render(data: ReportInput) -> str:
    models = data.models
    title = f"Evaluation of run {data.run_id}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>Is the student good enough?</h1><p class=meta>{_e(title)}: student {_e(models.student)}, teacher "
        f"{_e(models.teacher)}, judge {_e(models.judge)}</p>"
        + _verdict(data)
        + _training(data)
        + _scores(data)
        + _speed_and_cost(data)
        + _lost(data)
        + "<p class=note>Scores run from 1 to 5, given by the judge, per prompt, student and teacher shown as A and B in an order "
        "fixed by a hash of the prompt. Means and the student/teacher ratio cover scored prompts only; the interval "
        "is a 2,000-resample percentile bootstrap over prompts (fixed seed).</p></main></body></html>\n"
    )
