"""The shape every admin chart is drawn from (static/insights/charts.js) and read from as a
table: one place, so each chart's numbers are also on the page for screen readers and for
anyone who prefers a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    data: Sequence[int | float | None]
    # "line" or "bar"; a chart may mix both (bars of recipients, lines of rates).
    kind: str = ""
    # Rates go on a second axis in percent.
    axis: str = "count"


@dataclass(frozen=True)
class Chart:
    """A chart of `series` over `labels`; `kind` is line, bar or stacked (stacked bars)."""

    id: str
    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    kind: str = "line"
    horizontal: bool = False
    note: str = ""
    # How the summary read to screen readers speaks: "total" sums each series (events over
    # time), "latest" gives each series' last value (levels such as audience sizes), "values"
    # names every label with its values (a funnel, a breakdown).
    summary_kind: str = "total"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def json_id(self) -> str:
        return f"{self.id}-data"

    def as_json(self) -> dict[str, Any]:
        """What charts.js reads (through `json_script`)."""
        return {
            "kind": self.kind,
            "title": self.title,
            "horizontal": self.horizontal,
            "labels": list(self.labels),
            "series": [
                {"key": s.key, "label": s.label, "data": list(s.data), "kind": s.kind or self.kind, "axis": s.axis}
                for s in self.series
            ],
        }

    def rows(self) -> list[list[Any]]:
        """The same numbers as table rows: a label, then one value per series."""
        return [[label, *(s.data[index] for s in self.series)] for index, label in enumerate(self.labels)]

    def summary(self) -> str:
        """A sentence a screen reader can give for the canvas."""
        span = f" from {self.labels[0]} to {self.labels[-1]}" if self.labels and self.summary_kind != "values" else ""
        if self.summary_kind == "values":
            parts = [
                f"{label}: "
                + ", ".join(f"{s.label.lower()} {s.data[index]:,}" for s in self.series if s.data[index] is not None)
                for index, label in enumerate(self.labels)
            ]
        else:
            parts = []
            for s in self.series:
                values = [value for value in s.data if value is not None]
                if s.axis != "count" or not values:
                    continue
                if self.summary_kind == "latest":
                    parts.append(f"{s.label}: {values[-1]:,} at the end")
                else:
                    parts.append(f"{s.label}: {sum(values):,} in total")
        return f"{self.title}{span}. " + ("; ".join(parts) + "." if parts else "No data yet.")
