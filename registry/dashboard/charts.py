"""Server-rendered SVG charts: the geometry is computed here, the markup is a Jinja template."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .labels import INDICATORS_SHORT


@dataclass(frozen=True)
class Bar:
    """One bar: its series, value (percent) and rectangle."""

    series: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Row:
    """One indicator of the chart: label, bars and the target marker (if it has a target)."""

    id: str
    label: str
    y: float
    bars: tuple[Bar, ...]
    target: float | None
    target_x: float | None


@dataclass(frozen=True)
class BarChart:
    """A horizontal grouped bar chart, 0-100 %, one group of bars per indicator."""

    width: int
    height: int
    plot_left: int
    plot_width: int
    rows: tuple[Row, ...]
    ticks: tuple[tuple[int, float], ...]
    series: tuple[str, ...]

    def x_of(self, percent: float) -> float:
        """The x coordinate of a percentage."""
        return self.plot_left + self.plot_width * max(0.0, min(100.0, percent)) / 100


LABEL_WIDTH = 170
BAR_HEIGHT = 16
BAR_GAP = 4
ROW_GAP = 18
TOP = 10
AXIS_HEIGHT = 26


def coverage_chart(reports: Mapping[str, Mapping[str, Any]], width: int = 720) -> BarChart:
    """Declared beside verified percent of each procedure indicator, with its target marker.

    `reports` maps a series name ("declared", "verified") to a `tthc-coverage/1` report.
    """
    series = tuple(reports)
    by_series = {name: {i["id"]: i for i in rep["indicators"]} for name, rep in reports.items()}
    first = next(iter(reports.values()))
    ids = [i["id"] for i in first["indicators"] if i.get("available") and i["id"] in INDICATORS_SHORT]
    plot_width = width - LABEL_WIDTH - 20
    group_height = len(series) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
    rows: list[Row] = []
    y = TOP
    chart = BarChart(width, 0, LABEL_WIDTH, plot_width, (), (), series)
    for ind_id in ids:
        bars = []
        for n, name in enumerate(series):
            value = by_series[name].get(ind_id, {}).get("percent") or 0.0
            bar_y = y + n * (BAR_HEIGHT + BAR_GAP)
            bars.append(Bar(name, float(value), LABEL_WIDTH, bar_y,
                            chart.x_of(float(value)) - LABEL_WIDTH, BAR_HEIGHT))
        target = (by_series[series[0]][ind_id].get("target") or {}).get("percent")
        rows.append(Row(ind_id, INDICATORS_SHORT[ind_id], y + group_height / 2, tuple(bars),
                        target, chart.x_of(target) if target is not None else None))
        y += group_height + ROW_GAP
    height = int(y - ROW_GAP + AXIS_HEIGHT + 6)
    ticks = tuple((p, chart.x_of(p)) for p in range(0, 101, 20))
    return BarChart(width, height, LABEL_WIDTH, plot_width, tuple(rows), ticks, series)


def progress(percent: float | None, target: float | None) -> dict[str, float]:
    """Widths (0-100) of a progress bar and its target marker, for inline styles."""
    return {"value": max(0.0, min(100.0, percent or 0.0)),
            "target": max(0.0, min(100.0, target)) if target is not None else -1.0}

