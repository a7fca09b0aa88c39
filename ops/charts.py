"""Charts drawn as inline SVG on the server (no script, nothing fetched): stacked bars and lines over
days, and horizontal bars over named things, each with axis labels, a legend, a <title> and an
aria-label. The viewBox scales to the page's width (width 100%), so a phone shows the whole chart;
the text is sized for that (a 420-unit-wide chart in a 320 px phone card draws 15-unit text at 11-12 px)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH = 420
PLOT_HEIGHT = 190
LEFT, RIGHT, TOP = 66, 22, 12
AXIS_FONT = 15
LABEL_CHARS = 44  # a horizontal bar's name is cut to this (the table under the chart has it whole)
LEGEND_ROW = 24
# Distinct on white and for the common colour blindnesses (Okabe-Ito), the brand's violet first.
PALETTE = ("#6a4cff", "#e69f00", "#009e73", "#d55e00", "#0072b2", "#cc79a7", "#56b4e9", "#8a8a8a")


@dataclass(frozen=True)
class Series:
    """One named line or bar layer: a value per label."""

    name: str
    values: Sequence[float]


def nice_top(peak: float) -> tuple[float, float]:
    """An axis top at or above `peak`, a whole number of steps of 1, 2, 2.5 or 5 times a power of
    ten (at most four steps up the axis), and that step."""
    if peak <= 0:
        return 1.0, 0.25
    raw = peak / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * m for m in (1, 2, 2.5, 5, 10) if power * m >= raw)
    return step * math.ceil(peak / step - 1e-9), step


def tick_label(value: float, unit: str) -> str:
    """A y-axis figure: whole numbers as they are, small dollar amounts with their cents or less."""
    text = f"{value:.0f}" if value == int(value) else f"{value:.4f}".rstrip("0").rstrip(".")
    return f"${text}" if unit == "$" else f"{text}{unit}"


def _open(*, title: str, summary: str, height: float) -> list[str]:
    label = escape(f"{title}. {summary}" if summary else title)
    return [
        f'<svg class="ops-chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" aria-label="{label}"'
        ' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]


def _legend(series: Sequence[Series], *, top: float) -> tuple[list[str], float]:
    """Swatches and names in rows across the chart's width; the parts and the height they take."""
    parts, x, y = [], LEFT, top
    for index, one in enumerate(series):
        width = 24 + 8.6 * len(one.name)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = LEFT, y + LEGEND_ROW
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y + 4}" width="14" height="14" rx="2" fill="{colour}"/>')
        parts.append(f'<text x="{x + 20}" y="{y + 16}" font-size="{AXIS_FONT}">{escape(one.name)}</text>')
        x += width + 12
    return parts, (y - top + LEGEND_ROW) if series else 0


def _y_axis(*, top: float, unit: str) -> tuple[list[str], float]:
    axis_top, step = nice_top(top)
    parts = []
    for i in range(round(axis_top / step) + 1):
        value = step * i
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / axis_top
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e4f0"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 5:.1f}" font-size="{AXIS_FONT}" text-anchor="end">{escape(tick_label(value, unit))}</text>'
        )
    return parts, axis_top


def _x_labels(labels: Sequence[str], *, slot: float) -> list[str]:
    """At most five labels under the axis (so they never touch on a phone), evenly picked, the
    first and the last among them."""
    if not labels:
        return []
    every = max(1, math.ceil(len(labels) / 5))
    picked = sorted({*range(0, len(labels), every), len(labels) - 1})
    if len(picked) > 1 and picked[-1] - picked[-2] < every:
        picked.pop(-2)  # the last label would crowd the one before it
    y = TOP + PLOT_HEIGHT + 20
    return [
        f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{y}" font-size="{AXIS_FONT}" text-anchor="middle">{escape(labels[i])}</text>'
        for i in picked
    ]


def _empty_note(parts: list[str], *, y: float = TOP + PLOT_HEIGHT / 2) -> None:
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{y}" font-size="{AXIS_FONT + 2}" text-anchor="middle"'
        ' fill="#5f5b76">Nothing in this range</text>'
    )


def bar_chart(*, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "", summary: str = "") -> SafeString:
    """Bars stacked per label (a day), a layer per series."""
    totals = [sum(one.values[i] for one in series) for i in range(len(labels))]
    legend, legend_height = _legend(series, top=TOP + PLOT_HEIGHT + 32)
    parts = _open(title=title, summary=summary, height=TOP + PLOT_HEIGHT + 32 + legend_height + 6)
    axis, axis_top = _y_axis(top=max(totals, default=0), unit=unit)
    parts += axis
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    bar = max(1.0, slot * 0.7)
    for i in range(len(labels)):
        base = TOP + PLOT_HEIGHT
        for index, one in enumerate(series):
            value = one.values[i]
            if value <= 0:
                continue
            height = PLOT_HEIGHT * value / axis_top
            base -= height
            parts.append(
                f'<rect x="{LEFT + slot * i + (slot - bar) / 2:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}"'
                f' fill="{PALETTE[index % len(PALETTE)]}"/>'
            )
    if not any(totals):
        _empty_note(parts)
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + PLOT_HEIGHT}" y2="{TOP + PLOT_HEIGHT}" stroke="#5f5b76"/>')
    parts += _x_labels(labels, slot=slot)
    parts += legend
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every text above is escaped


def line_chart(*, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "", summary: str = "") -> SafeString:
    """A line per series over the labels (days)."""
    peak = max((value for one in series for value in one.values), default=0)
    legend, legend_height = _legend(series, top=TOP + PLOT_HEIGHT + 32)
    parts = _open(title=title, summary=summary, height=TOP + PLOT_HEIGHT + 32 + legend_height + 6)
    axis, axis_top = _y_axis(top=peak, unit=unit)
    parts += axis
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = [(LEFT + slot * (i + 0.5), TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / axis_top) for i, value in enumerate(one.values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5" stroke-linejoin="round"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
    if not peak:
        _empty_note(parts)
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + PLOT_HEIGHT}" y2="{TOP + PLOT_HEIGHT}" stroke="#5f5b76"/>')
    parts += _x_labels(labels, slot=slot)
    parts += legend
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every text above is escaped


def hbar_chart(*, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "", summary: str = "") -> SafeString:
    """Horizontal bars, a group per label (a name written above its bars), a bar per series: long
    names (provider:model) stay readable on a phone."""
    group = 20 + 16 * len(series)
    peak = max((value for one in series for value in one.values), default=0)
    axis_top, step = nice_top(peak)
    plot_top, plot_height = TOP + 4, group * len(labels) or 40
    legend, legend_height = _legend(series, top=plot_top + plot_height + 28)
    parts = _open(title=title, summary=summary, height=plot_top + plot_height + 28 + legend_height + 6)
    left, span = 8, WIDTH - 8 - RIGHT - 40
    steps = round(axis_top / step)
    for i in range(steps + 1):
        x = left + span * i / steps
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{plot_top}" y2="{plot_top + plot_height}" stroke="#e6e4f0"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{plot_top + plot_height + 20}" font-size="{AXIS_FONT}" text-anchor="middle">'
            f"{escape(tick_label(step * i, unit))}</text>"
        )
    for row, label in enumerate(labels):
        y = plot_top + group * row
        name = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        parts.append(f'<text x="{left}" y="{y + 14}" font-size="{AXIS_FONT}">{escape(name)}</text>')
        for index, one in enumerate(series):
            value = one.values[row]
            width = span * value / axis_top if value > 0 else 0
            parts.append(
                f'<rect x="{left}" y="{y + 18 + 16 * index}" width="{width:.1f}" height="13" fill="{PALETTE[index % len(PALETTE)]}"/>'
            )
    if not labels:
        _empty_note(parts, y=plot_top + 26)
    parts += legend
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every text above is escaped
