"""Inline SVG charts drawn by hand: a line chart and grouped bars. No scripts, no external resources.

Output is deterministic (coordinates rounded to 0.1 px) and every text is HTML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

MAX_LINE_POINTS = 1500  # a longer curve is thinned (every n-th point, plus the last)
FONT = 'font-family="system-ui, sans-serif" font-size="12" fill="#374151"'


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    values: Sequence[float]


def _f(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def label(value: float) -> str:
    """A tick label: at most four significant digits, no trailing zeros."""
    if value == 0:
        return "0"
    return f"{value:.4g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = [first]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(first + len(ticks) * step)
    return [round(t, 10) for t in ticks]


def thin(points: Sequence[tuple[float, float]], limit: int = MAX_LINE_POINTS) -> list[tuple[float, float]]:
    if len(points) <= limit:
        return list(points)
    stride = math.ceil(len(points) / limit)
    kept = list(points[::stride])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def line_chart(
    points: Sequence[tuple[float, float]],
    x_title: str,
    y_title: str,
    markers: Sequence[tuple[float, str]] = (),
    width: int = 1100,
    height: int = 320,
    color: str = "#1d4ed8",
) -> str:
    """A line through ``points`` (x, y) with axes, grid and optional vertical markers (x, label)."""
    left, right, top, bottom = 64, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    shown = thin(points)
    if not shown:
        return _empty(width, height, "no data")
    xs, ys = [p[0] for p in shown], [p[1] for p in shown]
    x_ticks, y_ticks = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [_open(width, height, f"{y_title} by {x_title}", len(points))]
    for t in y_ticks:
        y = _f(sy(t))
        parts.append(f'<line x1="{left}" y1="{y}" x2="{left + plot_w}" y2="{y}" stroke="#e5e7eb"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" {FONT}>{label(t)}</text>'
        )
    for t in x_ticks:
        x = _f(sx(t))
        parts.append(f'<text x="{x}" y="{top + plot_h + 18}" text-anchor="middle" {FONT}>{label(t)}</text>')
    for x_value, text in markers:
        x = _f(sx(x_value))
        parts.append(
            f'<line x1="{x}" y1="{top}" x2="{x}" y2="{top + plot_h}" stroke="#9ca3af" stroke-dasharray="4 4"/>'
            f'<text x="{x}" y="{top + 10}" dx="4" {FONT}>{escape(text)}</text>'
        )
    parts.append(_axes(left, top, plot_w, plot_h))
    coords = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in shown)
    parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle" {FONT}>{escape(x_title)}</text>'
    )
    parts.append(
        f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle" {FONT}>'
        f"{escape(y_title)}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(
    categories: Sequence[str], series: Sequence[Series], y_title: str, width: int = 360, height: int = 220
) -> str:
    """Vertical bars: one group per category, one bar per series, with the value above each bar."""
    left, right, top, bottom = 44, 8, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max([v for s in series for v in s.values] + [0.0])
    ticks = nice_ticks(0.0, top_value or 1.0, 4)
    y1 = ticks[-1] or 1.0

    def sy(y: float) -> float:
        return top + plot_h - y / y1 * plot_h

    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    parts = [_open(width, height, y_title, sum(len(s.values) for s in series))]
    for t in ticks:
        ty = _f(sy(t))
        parts.append(f'<line x1="{left}" y1="{ty}" x2="{left + plot_w}" y2="{ty}" stroke="#e5e7eb"/>')
        parts.append(
            f'<text x="{left - 6}" y="{ty}" text-anchor="end" dominant-baseline="middle" {FONT}>{label(t)}</text>'
        )
    for i, category in enumerate(categories):
        gx = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = s.values[i]
            x, y = gx + j * bar_w, sy(value)
            parts.append(
                f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(bar_w - 2)}" height="{_f(top + plot_h - y)}" '
                f'fill="{s.color}"><title>{escape(s.label)} {escape(category)}: {label(value)}</title></rect>'
            )
            parts.append(
                f'<text x="{_f(x + (bar_w - 2) / 2)}" y="{_f(y - 4)}" text-anchor="middle" {FONT}>{label(value)}</text>'
            )
        parts.append(
            f'<text x="{_f(left + (i + 0.5) * group_w)}" y="{top + plot_h + 16}" text-anchor="middle" {FONT}>'
            f"{escape(category)}</text>"
        )
    parts.append(_axes(left, top, plot_w, plot_h))
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" {FONT}>{escape(y_title)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{s.color}"/></svg> {escape(s.label)}</span>'
        for s in series
    )
    return f'<div class="legend">{items}</div>'


def _open(width: int, height: int, title: str, points: int) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'data-points="{points}"><title>{escape(title)}</title>'
    )


def _axes(left: float, top: float, plot_w: float, plot_h: float) -> str:
    return (
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{_f(top + plot_h)}" stroke="#6b7280"/>'
        f'<line x1="{left}" y1="{_f(top + plot_h)}" x2="{_f(left + plot_w)}" y2="{_f(top + plot_h)}" stroke="#6b7280"/>'
    )


def _empty(width: int, height: int, text: str) -> str:
    return (
        f'{_open(width, height, text, 0)}<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
        f"{FONT}>{escape(text)}</text></svg>"
    )
