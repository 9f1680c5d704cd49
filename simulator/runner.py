"""Run a scenario and hold what came out: the event log, derived tables, the summary.

``run(scenario)`` is the library's single entry to a simulation; ``Result.save(folder)`` writes
the result files the contract names (CSV tables, ``summary.json``, the effective scenario,
plots). Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plots, results
from .eventlog import Record
from .world import Progress, World

__all__ = ["Result", "run"]


@dataclass
class Result:
    """One finished run."""

    scenario: Any
    seed: int
    end_time_s: float
    records: list[Record]
    _tables: results.Tables | None = field(default=None, repr=False)
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def tables(self) -> results.Tables:
        if self._tables is None:
            self._tables = results.derive(self.records, sorted(self.scenario.servers))
        return self._tables

    @property
    def summary(self) -> dict[str, Any]:
        if self._summary is None:
            header = {"name": self.scenario.name, "seed": self.seed, "end_time_s": self.end_time_s}
            self._summary = results.summarize(self.tables, self.records, header)
        return self._summary

    def save(self, folder: str | Path, with_plots: bool = True) -> Path:
        """Write every result file into ``folder`` (created if needed); returns the folder."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        t = self.tables
        results.write_rows(out / "deliveries.csv", results.DELIVERY_COLUMNS, t.deliveries)
        results.write_rows(out / "retrievals.csv", results.RETRIEVAL_COLUMNS, t.retrievals)
        results.write_rows(out / "queues.csv", results.QUEUE_COLUMNS, t.queues)
        results.write_events(out / "events.csv", self.records)
        results.write_json(out / "summary.json", self.summary)
        (out / "scenario.yaml").write_text(self.scenario.to_effective_yaml())
        if with_plots:
            (out / "plots").mkdir(exist_ok=True)
            name = self.scenario.name
            plots.save(plots.latency_cdf(t.deliveries, f"{name}: latency CDF"), out / "plots" / "latency_cdf.png")
            spans = plots.outage_spans(self.records, self.end_time_s)
            plots.save(plots.queue_timeline(t.queues, self.end_time_s, spans, f"{name}: queue length"),
                       out / "plots" / "queue_length.png")
        return out


def run(scenario: Any, seed: int | None = None, progress: Progress | None = None) -> Result:
    """Simulate ``scenario`` (with ``seed`` instead of its own, if given) to the end."""
    world = World(scenario, seed)
    end = world.run(progress)
    return Result(scenario, world.seed, end, world.log.records)
