"""Small server-side SVG charts for the admin dashboard (no JavaScript, no chart library).

Each chart is an ``<svg role="img">`` with a ``<title>`` and the numbers repeated in a table
next to it (the template shows the table), so the dashboard reads the same with a screen
reader, in print and on a tablet.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = {"line": "#06c755", "telegram": "#229ed9", "web": "#5b6abf", "terminal": "#999999"}
DEFAULT_COLOURS = ["#5b6abf", "#e07b39", "#2a9d8f", "#c0392b", "#8e44ad", "#7f8c8d"]


@dataclass
class Series:
    name: str
    values: list[float]
    colour: str


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    # why even steps: the middle grid line of a count chart stays a whole number
    for step in (2, 4, 6, 8, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def stacked_bars(labels: list[str], series: list[Series], *, title: str, width: int = 560, height: int = 200, unit: str = "") -> Markup:
    """Vertical bars, one per label, stacked by series (e.g. conversations per day by channel)."""
    left, right, top, bottom = 36, 8, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    ymax = _nice_max(max(totals, default=0))
    n = max(len(labels), 1)
    slot = plot_w / n
    bar_w = max(4.0, slot * 0.7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for frac in (0, 0.5, 1):
        y = top + plot_h - frac * plot_h
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#555">{_fmt(ymax * frac)}</text>')
    every = max(1, round(n / 7))
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for s in series:
            v = s.values[i]
            if v <= 0:
                continue
            h = v / ymax * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{s.colour}">'
                f"<title>{escape(label)} {escape(s.name)}: {_fmt(v)}{escape(unit)}</title></rect>"
            )
        if i % every == 0 or i == n - 1:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" fill="#555">{escape(label)}</text>')
    legend_x = left
    for s in series:
        parts.append(f'<rect x="{legend_x}" y="{height - 10}" width="10" height="10" fill="{s.colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{height - 1}" font-size="11" fill="#333">{escape(s.name)}</text>')
        legend_x += 14 + 12 * len(s.name) + 16
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(rows: list[tuple[str, float]], *, title: str, width: int = 560, colour: str = "#5b6abf", unit: str = "") -> Markup:
    """One horizontal bar per row, longest first (e.g. the most used knowledge entries)."""
    row_h, label_w, right = 22, 210, 40
    height = max(row_h * len(rows) + 8, 30)
    vmax = max((v for _l, v in rows), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append('<text x="8" y="20" font-size="12" fill="#777">まだデータがありません</text>')
    for i, (label, v) in enumerate(rows):
        y = 4 + i * row_h
        w = (width - label_w - right) * v / vmax
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end" fill="#333">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 6}" fill="{colour}"><title>{escape(label)}: {_fmt(v)}{escape(unit)}</title></rect>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12" fill="#333">{_fmt(v)}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
