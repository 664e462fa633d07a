"""Small inline SVG charts, drawn on the server: no JavaScript, a few KB per chart.

Each chart has a ``<title>`` and ``<desc>`` (read by screen readers through
``aria-labelledby``), labelled axes and a legend; pages put the same numbers in a table beside
it. Colours are the Okabe-Ito palette, distinguishable with the common colour-vision
deficiencies. Every text is escaped here, so a hostile label cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 36, 52
#: width of a character of FONT, generously (wide sans-serif fonts such as DejaVu Sans), and
#: the least room between two x labels: the layout is decided here, without the browser
CHAR_WIDTH, LABEL_GAP = 7.6, 8.0
#: up to this many x labels are categories (steps, environments, weeks): each is shown,
#: shortened to its room if need be; more are a sequence (days), of which some are shown
MAX_CATEGORIES = 12


def x_labels(labels: Sequence[str], plot_width: float) -> list[tuple[int, str]]:
    """The x labels to draw, as (slot index, text), so that no two overlap.

    A few categories are all shown, each cut to its slot's width (the full text is in the
    bars' titles and the table). Of a longer sequence, every n-th label is shown, counted
    back from the last one (the most recent day), n being the fewest slots that hold the
    widest label.
    """
    if not labels:
        return []
    slot = plot_width / len(labels)
    if len(labels) <= MAX_CATEGORIES:
        fits = max(3, int((slot - LABEL_GAP) // CHAR_WIDTH))
        return [
            (i, label if len(label) <= fits else label[: fits - 1] + "…")
            for i, label in enumerate(labels)
        ]
    widest = max(len(label) for label in labels) * CHAR_WIDTH + LABEL_GAP
    every = max(1, math.ceil(widest / slot))
    last = len(labels) - 1
    return [(i, labels[i]) for i in range(last % every, last + 1, every)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values spanning ``low``..``high``; whole numbers when the range is small
    (a DAU of 2 must not get ticks at 0.4, 0.8...)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if high - low >= 1:
        step = max(1.0, step)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 6))
        value += step
    return ticks


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


class _Frame:
    def __init__(self, width: int, height: int, values: Sequence[float], slots: int) -> None:
        self.width, self.height = width, height
        self.ticks = nice_ticks(min(values, default=0), max(values, default=0))
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.plot_w = width - LEFT - RIGHT
        self.plot_h = height - TOP - BOTTOM
        self.slots = max(slots, 1)

    def y(self, value: float) -> float:
        return TOP + self.plot_h * (1 - (value - self.low) / (self.high - self.low))

    def x_center(self, i: int) -> float:
        return LEFT + self.plot_w * (i + 0.5) / self.slots


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg class="chart" id="{cid}" data-chart="{cid}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="{cid}-title {cid}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" {FONT} font-weight="600">{escape(title)}</text>',
    ]


def _axes(frame: _Frame, labels: Sequence[str], x_label: str, y_label: str) -> list[str]:
    out = []
    for tick in frame.ticks:
        y = frame.y(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{frame.width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
        )
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{_number(tick)}</text>'
        )
    base = frame.y(0)
    out.append(
        f'<line x1="{LEFT}" x2="{frame.width - RIGHT}" y1="{base:.1f}" y2="{base:.1f}" stroke="#57606a"/>'
    )
    # x labels low enough that the lowest y label (whose box reaches below the axis) is
    # above them
    for i, label in x_labels(labels, frame.plot_w):
        out.append(
            f'<text class="tick" x="{frame.x_center(i):.1f}" y="{TOP + frame.plot_h + 20}" text-anchor="middle" {FONT}>{escape(label)}</text>'
        )
    out.append(
        f'<text x="{LEFT + frame.plot_w / 2:.1f}" y="{frame.height - 8}" text-anchor="middle" {FONT}>{escape(x_label)}</text>'
    )
    out.append(
        f'<text transform="translate(14 {TOP + frame.plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" {FONT}>{escape(y_label)}</text>'
    )
    return out


def _legend(names: Sequence[str], width: int) -> list[str]:
    if len(names) < 2:
        return []
    out, x = [], LEFT
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="23" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="32" {FONT}>{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return out


def _begin(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    x_label: str,
    y_label: str,
    width: int,
    height: int,
) -> tuple[_Frame, list[str]]:
    """The frame scaled to every series' values, and the chart's opening and axes."""
    values = [v for _, data in series for v in data]
    frame = _Frame(width, height, values, len(labels))
    return frame, _open(chart_id, title, desc, width, height) + _axes(
        frame, labels, x_label, y_label
    )


def _finish(out: list[str], series: Sequence[tuple[str, Sequence[float]]], width: int) -> Markup:
    out += _legend([name for name, _ in series], width)
    out.append("</svg>")
    return Markup("".join(out))


def line_chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 260,
) -> Markup:
    """Lines over ``labels`` (one per series), with a dot per value so one day shows."""
    frame, out = _begin(chart_id, title, desc, labels, series, x_label, y_label, width, height)
    for i, (name, data) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{frame.x_center(j):.1f},{frame.y(v):.1f}" for j, v in enumerate(data))
        out.append(
            f'<g data-series="{escape(name)}"><polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'
        )
        for j, v in enumerate(data):
            out.append(
                f'<circle cx="{frame.x_center(j):.1f}" cy="{frame.y(v):.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(name)}, {escape(labels[j])}: {_number(v)}</title></circle>"
            )
        out.append("</g>")
    return _finish(out, series, width)


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 260,
) -> Markup:
    """Grouped vertical bars (one group per label, one bar per series); negatives go down."""
    frame, out = _begin(chart_id, title, desc, labels, series, x_label, y_label, width, height)
    group = frame.plot_w / frame.slots * 0.8
    bar = group / max(len(series), 1)
    for i, (name, data) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<g data-series="{escape(name)}">')
        for j, v in enumerate(data):
            x = frame.x_center(j) - group / 2 + i * bar
            top, bottom = sorted((frame.y(v), frame.y(0)))
            out.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(bar - 1, 1):.1f}" height="{max(bottom - top, 0):.1f}" fill="{color}">'
                f"<title>{escape(name)}, {escape(labels[j])}: {_number(v)}</title></rect>"
            )
        out.append("</g>")
    return _finish(out, series, width)
