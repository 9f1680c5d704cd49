"""Run a scenario and hold what came out: the event log, derived tables, the summary, the plots.

``run(scenario)`` is the library's single entry to a simulation. A :class:`Result` gives the
tables as rows (``tables``) or as pandas DataFrames (``deliveries``, ``retrievals``, ``events``,
``queues``; pandas is imported only there), draws figures (``plot_*``), writes the result
folder the contract names (``save``) and reads one back (``Result.load``) without simulating
again. Nothing here prints. The simulation core and matplotlib are imported when first used,
so a command that neither simulates nor draws (``mailsim validate``) does not load them.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import eventkinds, loads, resultdir, results, table_files
from .breakdown import BREAKDOWN_COLUMNS
from .csv_columns import columns_by_name
from .eventkinds import detail_texts
from .eventlog import Record
from .events_filter import FULL, NONE, EventsChoice, parse_events
from .float_column import FloatColumn
from .logcolumns import VALUES, LogColumns
from .table_schema import dtypes
from .wide_events import wide_columns
from .workload import check_workload

# Told each step of writing a result, ``(phase, detail)``: phase is "derive", "write", "plots",
# "report", "transcripts" or "pcap", detail names the table, file or plot (see Result.save).
Step = Callable[[str, str], None]


def _no_step(_phase: str, _detail: str) -> None:
    pass

if TYPE_CHECKING:
    import pandas as pd

    from .plots import Figure
    from .protocols.trace import SessionTrace
    from .world import Progress, World

__all__ = ["PLOT_FILES", "Result", "run"]

OUTAGE_EVENTS = ("server_down", "server_up", "link_down", "link_up")
"""The records the queue plot's outage shading is read from."""

PANDAS_HINT = "pandas is needed for DataFrames; install it with: pip install 'mailsim[notebooks]'"

PLOT_FILES: tuple[str, ...] = (
    "latency_cdf", "latency_by_domain", "latency_by_protocol", "queue_length", "attempts", "time_breakdown",
    "topology", "links", "servers",
)
"""The PNGs ``save`` writes into ``plots/`` (``latency_by_protocol`` only when mail was retrieved)."""

_DTYPES: dict[str, dict[str, str]] = {
    **{table: dtypes(table) for table in ("deliveries", "retrievals", "queues", "events", "links", "servers")},
    "breakdown": {column: "float64" for column in ("latency_s", "queue_wait_s", "worker_wait_s", "processing_s",
                                                   "transfer_s", "retrieval_s")},
}
# Event fields whose column needs a nullable dtype (pandas would make an int column with gaps float).
_FIELD_DTYPES = {eventkinds.INT: "Int64", eventkinds.FLAG: "boolean", eventkinds.FLOAT: "float64"}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as error:
        raise ImportError(PANDAS_HINT) from error
    return pandas


def _column_frame(data: results.Columns, columns: Sequence[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """A DataFrame of a table held as columns, a :class:`FloatColumn` read as its array (NaN where
    empty): no row is made as a dict or tuple."""
    import numpy as np

    pandas = _pandas()
    df = pandas.DataFrame({c: np.asarray(data[c]) if isinstance(data[c], FloatColumn) else data[c] for c in columns},
                          columns=list(columns))
    return df.astype({c: t for c, t in dtypes.items() if c in df.columns})


@dataclass
class Result:
    """One finished run (or one read back from its folder with :meth:`load`)."""

    scenario: Any
    seed: int
    end_time_s: float
    records: Sequence[Record]  # a run's log is read as tuples made when read (eventlog.Records)
    _tables: results.Tables | None = field(default=None, repr=False)
    _summary: dict[str, Any] | None = field(default=None, repr=False)
    _breakdown: results.Columns | None = field(default=None, repr=False)
    traces: list[SessionTrace] | None = field(default=None, repr=False)  # session traces (run with trace=True)
    trace_messages: frozenset[str] | None = field(default=None, repr=False)  # the messages traced (None: all)
    _run_id: str | None = field(default=None, repr=False)
    partial: bool = False  # stopped before its end (an interrupt): the tables cover the run up to end_time_s
    events_kept: str = FULL  # what ``records`` holds of the log: all of it, or (loaded) what the folder kept
    _run_loads: loads.RunLoads | None = field(default=None, repr=False)  # what the run counted per time bin
    _server_rows: list[dict[str, Any]] | None = field(default=None, repr=False)
    _log: LogColumns | None = field(default=None, repr=False)
    _log_released: bool = field(default=False, repr=False)  # save(keep_log=False) let the log go
    _protocols: dict[str, str] | None = field(default=None, repr=False)  # user -> its devices' protocol
    _outages: tuple[list[tuple[str, float, float]], dict[str, set[str]] | None] | None = field(default=None, repr=False)

    @classmethod
    def of_world(cls, world: World, end_time_s: float, seed: int | None = None,
                 trace_messages: frozenset[str] | None = None) -> Result:
        """The result of ``world``, run until ``end_time_s`` (its log, traces and load counts). A
        ``seed`` other than the scenario's own is written into the result's scenario, so that its
        ``scenario.yaml`` runs again as this run did."""
        scenario = world.scenario
        if seed is not None and seed != scenario.seed:
            scenario = scenario.override({"seed": seed})
        return cls(scenario, scenario.seed, end_time_s, world.log.records, traces=world.ctx.traces,
                   trace_messages=trace_messages, partial=world.stopped,
                   _run_loads=loads.from_run(world.ctx.net, world.ctx.servers, end_time_s))

    @property
    def bin_s(self) -> float:
        """The width of the time bins of links.csv and servers.csv, in seconds."""
        return self._loads().bin_s

    def _loads(self) -> loads.RunLoads:
        if self._run_loads is None:
            raise ValueError("this result has no load tables (links.csv, servers.csv): its folder was written "
                             "by an older mailsim; run the scenario again")
        return self._run_loads

    @property
    def run_id(self) -> str:
        """The run's id, in summary.json and the folder's manifest: a hash of the mailsim version,
        the seed and the effective scenario (see :func:`simulator.resultdir.run_id_of`)."""
        if self._run_id is None:
            self._run_id = resultdir.run_id_of(self.scenario.to_effective_dict(), self.seed)
        return self._run_id

    # ---- rows and summary ------------------------------------------------------------------

    @property
    def log(self) -> LogColumns:
        """``records`` as columns, grouped by kind (what the tables, summary and writers read)."""
        if self._log_released:
            self._need_log("reading the event log")
        if self._log is None or self._log.records is not self.records:
            self._log = LogColumns.of(self.records)
        return self._log

    @property
    def tables(self) -> results.Tables:
        """deliveries, retrievals and queues as lists of dicts (the CSV files' rows)."""
        if self._tables is None:
            self._tables = results.derive(self.log, sorted(self.scenario.servers))
        return self._tables

    @property
    def summary(self) -> dict[str, Any]:
        """What summary.json holds: counts, latency statistics, attempts, peak queues."""
        if self._summary is None:
            header = {"name": self.scenario.name, "seed": self.seed, "run_id": self.run_id,
                      "end_time_s": self.end_time_s, **({"partial": True} if self.partial else {})}
            self._summary = results.summarize(self.tables, self.log, header)
            if self._run_loads is not None:
                self._summary["loads"] = {"bin_s": self.bin_s, **loads.most_loaded(self.link_rows, self.server_rows)}
        return self._summary

    @property
    def link_rows(self) -> list[dict[str, Any]]:
        """links.csv's rows: per time bin, per link and direction, bytes, throughput and utilisation."""
        return self._loads().links

    @property
    def server_rows(self) -> list[dict[str, Any]]:
        """servers.csv's rows: per time bin, per server, queue, messages, open sessions and refusals."""
        if self._server_rows is None:
            home_of = {d: name for name, spec in self.scenario.servers.items() for d in spec.domains}
            self._server_rows = loads.server_rows(self.log, self._loads(), self.end_time_s, home_of)
        return self._server_rows

    def _need_log(self, what: str) -> None:
        """ValueError unless ``records`` is the whole event log (a folder saved with ``events`` other
        than full has only its tables, a result saved with ``keep_log=False`` no log)."""
        if self._log_released:
            raise ValueError(f"{what} needs the event log, and this result let it go when it was saved "
                             "(save(..., keep_log=False))")
        if self.events_kept != FULL:
            raise ValueError(f"{what} needs the whole event log, and this result kept {self.events_kept!r} of it "
                             "(events='full', mailsim run --events full, keeps it)")

    @property
    def breakdown_columns(self) -> results.Columns:
        """Per delivered mail pair: queue wait, worker wait, processing, SMTP transfer and mailbox wait
        (see breakdown.time_breakdown), as columns."""
        from .breakdown import time_breakdown

        if self._breakdown is None:
            self._need_log("the time breakdown")
            self._breakdown = time_breakdown(self.log, self.tables.columns("deliveries"))
        return self._breakdown

    @property
    def breakdown_rows(self) -> list[dict[str, Any]]:
        """:attr:`breakdown_columns` as rows, dicts keyed by column name."""
        from .breakdown import breakdown_rows

        return breakdown_rows(self.breakdown_columns)

    # ---- DataFrames (pandas imported here only) ---------------------------------------------

    @property
    def deliveries(self) -> pd.DataFrame:
        """deliveries.csv as a DataFrame: one row per (message, recipient); missing times are NaN."""
        return _column_frame(self.tables.columns("deliveries"), results.DELIVERY_COLUMNS, _DTYPES["deliveries"])

    @property
    def retrievals(self) -> pd.DataFrame:
        """retrievals.csv as a DataFrame: one row per (message, recipient, device)."""
        return _column_frame(self.tables.columns("retrievals"), results.RETRIEVAL_COLUMNS, _DTYPES["retrievals"])

    @property
    def queues(self) -> pd.DataFrame:
        """queues.csv as a DataFrame: queue length of each server whenever it changes."""
        return _column_frame(self.tables.columns("queues"), results.QUEUE_COLUMNS, _DTYPES["queues"])

    @property
    def links(self) -> pd.DataFrame:
        """links.csv as a DataFrame (utilisation NaN on unlimited links)."""
        return _column_frame(columns_by_name(self.link_rows, loads.LINK_COLUMNS), loads.LINK_COLUMNS, _DTYPES["links"])

    @property
    def servers(self) -> pd.DataFrame:
        """servers.csv as a DataFrame."""
        return _column_frame(columns_by_name(self.server_rows, loads.SERVER_COLUMNS), loads.SERVER_COLUMNS,
                             _DTYPES["servers"])

    @property
    def events(self) -> pd.DataFrame:
        """The event log as a DataFrame: events.csv's columns (time, event, message_id, node, detail),
        then one typed column per field (docs/events.md), empty where a record's kind lacks it. Of a
        folder saved with some kinds of event only, those; ValueError for one saved with none."""
        if self.events_kept == NONE:
            raise ValueError("this result kept no event log (events='none'): its events were not saved "
                             "(events='full', mailsim run --events full, keeps them)")
        pandas = _pandas()
        log = self.log
        wide = wide_columns(log)
        wide["detail"] = detail_texts(wide["event"], log.column(VALUES), ((k, log.where(k)) for k in log.kinds))
        names = [*results.EVENT_COLUMNS, *eventkinds.FIELD_TYPES]
        typed = {name: _FIELD_DTYPES[type_] for name, type_ in eventkinds.FIELD_TYPES.items() if type_ in _FIELD_DTYPES}
        empty = [None] * len(wide["time"])
        return pandas.DataFrame({name: wide.get(name, empty) for name in names}).astype({**_DTYPES["events"], **typed})

    @property
    def breakdown(self) -> pd.DataFrame:
        """Where each delivered mail pair's time went (queue_wait_s + transfer_s == latency_s)."""
        return _column_frame(self.breakdown_columns, BREAKDOWN_COLUMNS, _DTYPES["breakdown"])

    # ---- figures ---------------------------------------------------------------------------

    def plot_latency(self, by: str | None = None) -> Figure:
        """Latency CDFs: overall (``by=None``), per destination ``"domain"`` or per retrieval ``"protocol"``."""
        from . import plots

        deliveries, name = self.tables.columns("deliveries"), self.scenario.name
        if by is None:
            return plots.latency_cdf(deliveries, f"{name}: latency of mail (message, recipient) pairs")
        if by == "domain":
            return plots.latency_cdf_by_domain(deliveries, f"{name}: delivery latency by destination domain")
        if by == "protocol":
            if self._protocols is None:
                self._need_log("the latency plot by protocol")
                self._protocols = results.device_protocols(self.log)
            return plots.latency_cdf_by_protocol(deliveries, self._protocols,
                                                 f"{name}: end to end (solid) and mailbox wait (dashed) by protocol")
        raise ValueError(f"by must be None, 'domain' or 'protocol', not {by!r}")

    def plot_queues(self) -> Figure:
        """Outgoing queue length of each server over time, outages shaded."""
        from . import plots

        spans, relays_to = self._queue_outages()
        links = [(link.a, link.b) for link in self.scenario.links]
        return plots.queue_timeline(self.tables.columns("queues"), self.end_time_s, spans,
                                    f"{self.scenario.name}: outgoing queue length per server", links, relays_to)

    def _queue_outages(self) -> tuple[list[tuple[str, float, float]], dict[str, set[str]] | None]:
        """What the queue plot reads of the log: the outage spans, and where each server relays to
        (only when a link went down; None otherwise)."""
        if self._outages is None:
            from .cutoffs import destinations
            from .plots import outage_spans

            self._need_log("the queue plot")
            spans = outage_spans(self.log.rows(*OUTAGE_EVENTS), self.end_time_s)
            link_names = {f"{link.a}--{link.b}" for link in self.scenario.links}
            # where each server relays to matters only for link outages; reading it reads every attempt record
            relays_to = destinations(self.log.rows("attempt")) if any(t in link_names for t, _, _ in spans) else None
            self._outages = (spans, relays_to)
        return self._outages

    def _release_log(self, for_plots: bool) -> None:
        """Let the log go, so that drawing does not need memory beside it; ``for_plots``: first read
        what the standard plots need of it (the breakdown, the devices' protocols, the outages), from
        a copy of only the records they read, the rest let go before."""
        from .breakdown import EVENTS_READ

        if for_plots:
            self._need_log("drawing the plots")
            self._log = self.log.subset(*EVENTS_READ, "device", "attempt", *OUTAGE_EVENTS)
            self.records = self._log.records
            _ = self.breakdown_columns
            self._protocols = results.device_protocols(self.log)
            self._queue_outages()
        self.records = []
        self._log = None
        self._log_released = True

    def plot_attempts(self) -> Figure:
        """Delivery attempts per mail (message, recipient) pair, by final status."""
        from . import plots

        return plots.attempts_histogram(self.tables.columns("deliveries"),
                                        f"{self.scenario.name}: delivery attempts per (message, recipient)")

    def plot_time_breakdown(self) -> Figure:
        """Where the time went: queue wait, SMTP sessions, waiting in the mailbox."""
        from . import plots

        return plots.breakdown_figure(self.breakdown_columns, f"{self.scenario.name}: where the time went")

    def plot_journey(self, message_id: str) -> Figure:
        """One message's sequence chart (raises journey.UnknownMessageError for an unknown id)."""
        from .journey import message_journey

        self._need_log("a journey")
        users = {u.address: u.at for u in self.scenario.expanded_users()}
        return message_journey(self.records, message_id, set(self.scenario.servers), users, self.end_time_s)

    def plot_topology(self) -> Figure:
        """The scenario's network: servers, users' sites, links with latency and bandwidth."""
        from .topology import topology_figure

        return topology_figure(self.scenario)

    def plot_links(self) -> Figure:
        """Utilisation of each limited link per direction over time (from links.csv)."""
        from .load_plots import links_figure

        return links_figure(self.link_rows, f"{self.scenario.name}: link utilisation per time bin")

    def plot_servers(self) -> Figure:
        """Queue length and open inbound sessions of each server over time (from servers.csv)."""
        from .load_plots import servers_figure

        return servers_figure(self.server_rows, f"{self.scenario.name}: queue and sessions per server per time bin")

    def figures(self) -> dict[str, Callable[[], Figure]]:
        """The standard plots by file name (without ``.png``), each drawn when called."""
        drawers: dict[str, Callable[[], Figure]] = {
            "latency_cdf": self.plot_latency,
            "latency_by_domain": lambda: self.plot_latency("domain"),
            "latency_by_protocol": lambda: self.plot_latency("protocol"),
            "queue_length": self.plot_queues,
            "attempts": self.plot_attempts,
            "time_breakdown": self.plot_time_breakdown,
            "topology": self.plot_topology,
            "links": self.plot_links,
            "servers": self.plot_servers,
        }
        if not self.tables.columns("retrievals")["message_id"]:
            del drawers["latency_by_protocol"]
        if self._run_loads is None:  # a folder of an older mailsim
            del drawers["links"], drawers["servers"]
        return drawers

    def render_plots(self, progress: Step | None = None) -> dict[str, bytes]:
        """Every standard plot as PNG bytes, by name (``progress`` told of each)."""
        step = progress or _no_step
        if not self._log_released:
            self._need_log("drawing the plots")
        from .collector import freeing_new_cycles
        from .mailpairs import shared_pairs

        drawers = self.figures()
        images = {}
        with shared_pairs(), freeing_new_cycles() as free:  # the figures read the deliveries table once
            for number, (name, draw) in enumerate(drawers.items(), start=1):
                step("plots", f"{name} ({number}/{len(drawers)})")
                from . import plots  # matplotlib loads as the first plot starts

                images[name] = plots.png_bytes(draw())
                free()  # the figure, drawn
        return images

    def save_plots(self, folder: str | Path, images: dict[str, bytes] | None = None) -> list[Path]:
        """Write the standard plots as ``<folder>/<name>.png``; returns the paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        images = self.render_plots() if images is None else images
        paths = []
        for name, png in images.items():
            path = out / f"{name}.png"
            path.write_bytes(png)
            paths.append(path)
        return paths

    # ---- files -----------------------------------------------------------------------------

    def save(self, folder: str | Path, with_plots: bool = True, report: bool = False,
             transcripts: bool = False, pcap: bool = False, progress: Step | None = None,
             events: str | EventsChoice = FULL, format: str = table_files.DEFAULT_FORMAT,
             keep_log: bool = True) -> Path:
        """Write every result file into ``folder``, replacing whatever result it held; returns the folder.

        The files are written into a new folder beside ``folder`` that replaces it only when
        complete, with a ``manifest.json`` (the run_id, each file's sha256); an exception or an
        interrupt leaves ``folder`` as it was (see :mod:`simulator.resultdir`). Raises
        :class:`simulator.resultdir.ResultFolderError` for a path that cannot be a result folder
        (a file, a folder of other files, a place that is not writable).

        With ``report``, also a self-contained ``report.html`` (summary tables, plots embedded);
        with ``transcripts`` / ``pcap`` (the run must have been traced), ``transcripts.jsonl`` /
        ``capture.pcap`` (see :meth:`write_wire`). ``progress`` is told of each step as it starts.

        ``events``: what the event-log file keeps, ``"full"``, ``"none"`` or event kinds
        (``"created,delivered"``; see :mod:`simulator.events_filter`); the tables and summary are
        derived from the whole log either way. ``format``: the tables as ``"csv"``, ``"parquet"`` or
        ``"both"``. Both choices, when not the default, are recorded in the manifest. ValueError
        for an unknown choice, before anything is written.

        ``keep_log=False`` is for a caller that uses the result no further than its summary and tables
        (``mailsim run``): once the files made of the log are written, and what the plots read of it is
        read, the result lets the log go (``records`` is empty afterwards; journeys and the DataFrame of
        events raise ValueError), so the plots are drawn without it in memory. The files are the same.
        """
        step = progress or _no_step
        kept = parse_events(events)
        table_files.extensions(format)
        if transcripts or pcap:
            self._check_traced()
        step("derive", "deliveries, retrievals, queues")
        t = self.tables
        step("derive", "links, servers")
        load_tables = self._load_tables()
        step("derive", "summary")
        summary = self.summary
        marks: dict[str, Any] = {"partial": True, "simulated_until_s": self.end_time_s} if self.partial else {}
        if not kept.full:
            marks["events"] = kept.text
        if format != table_files.DEFAULT_FORMAT:
            marks["table_format"] = format
        with resultdir.replacing(folder, self.run_id, marks) as out:
            table_files.write_tables(out, t, self.log, kept, format, step, load_tables)
            step("write", "summary.json")
            results.write_json(out / "summary.json", summary)
            (out / "scenario.yaml").write_text(self.scenario.to_effective_yaml())
            if not keep_log and not (transcripts or pcap):
                if with_plots or report:
                    step("derive", "time breakdown")  # read of the log before it goes (else, as the plot is drawn)
                self._release_log(for_plots=with_plots or report)
            images = self.render_plots(step) if (with_plots or report) else None
            if with_plots and images is not None:
                self.save_plots(out / "plots", images)
            if report:
                step("report", "report.html")
                self.write_report(out / "report.html", images)
            if transcripts or pcap:
                self.write_wire(out, transcripts=transcripts, pcap=pcap, progress=step)
        return Path(folder)

    def _load_tables(self) -> dict[str, list[dict[str, Any]]]:
        """links and servers rows by table name; none for a result without load counts."""
        if self._run_loads is None:
            return {}
        return {"links": self.link_rows, "servers": self.server_rows}

    def write_wire(self, folder: str | Path, transcripts: bool = True, pcap: bool = True,
                   progress: Step | None = None) -> list[Path]:
        """Write the traced sessions as ``transcripts.jsonl`` and/or ``capture.pcap`` into ``folder``.

        Raises ValueError when the run was not traced (``run(..., trace=True)``), or when
        ``trace_messages`` named messages the run did not create.
        """
        from .pcap import write_pcap
        from .transcript.build import build_conversations
        from .transcript.jsonl import write_transcripts

        self._check_traced()
        step = progress or _no_step
        step("transcripts" if transcripts else "pcap", "matching sessions to messages")
        assert self.traces is not None  # checked above
        conversations = build_conversations(self.traces, self.records, self.scenario, self.end_time_s,
                                            only=self.trace_messages)
        out = Path(folder)
        written = []
        if transcripts:
            step("transcripts", "transcripts.jsonl")
            written.append(write_transcripts(out / "transcripts.jsonl", conversations, self.scenario))
        if pcap:
            step("pcap", "capture.pcap")
            written.append(write_pcap(out / "capture.pcap", conversations, self.scenario))
        return written

    def _check_traced(self) -> None:
        """ValueError unless the run recorded session traces of messages it did create."""
        from .capture import describe_ids, unknown_message_ids

        if self.traces is None:
            raise ValueError("this run recorded no session traces: run it with trace=True")
        unknown = unknown_message_ids(self.records, sorted(self.trace_messages or ()))
        if unknown:
            raise ValueError(f"trace_messages names {', '.join(unknown)}, which this run did not create "
                             f"(it created {describe_ids(self.records)})")

    def write_report(self, path: str | Path, images: dict[str, bytes] | None = None) -> Path:
        """Write the self-contained HTML report of this run to ``path``."""
        from .report import write_report

        return write_report(self, Path(path), self.render_plots() if images is None else images)

    @classmethod
    def load(cls, folder: str | Path) -> Result:
        """Read a result folder written by :meth:`save` back, without simulating again.

        The folder is checked against its manifest first: a file missing, changed, or not of
        the run (left by another run, say) raises :class:`simulator.resultdir.ResultFolderError`.
        The records come from the event log (events.csv, or events.parquet in a folder saved as
        Parquet) and the scenario from scenario.yaml, so the tables and summary of the loaded
        result equal the saved ones. A folder saved without the whole log (``events`` other than
        full) gives its tables from their files and its summary from summary.json; its
        ``records`` are those the folder kept, and what needs the whole log (plots, journeys)
        raises ValueError. Raises FileNotFoundError for a missing folder or file, ValueError for
        a table or log that is not one, ScenarioError for a bad scenario.yaml.
        """
        from .limits import NO_MAIL_LIMIT
        from .scenario import load_scenario

        root = Path(folder)
        run_id = resultdir.verify(root)
        kept = resultdir.manifest_marks(root).get("events", FULL)
        for name in ("scenario.yaml", "summary.json"):
            if not (root / name).is_file():
                raise FileNotFoundError(f"{root} is not a result folder: {name} is missing")
        records = table_files.read_records(root)
        if records is None:
            if kept == FULL:
                raise FileNotFoundError(f"{root} is not a result folder: events.csv is missing")
            records = []
        saved = json.loads((root / "summary.json").read_text())
        scenario = load_scenario(root / "scenario.yaml", max_messages=NO_MAIL_LIMIT)  # it has run already
        result = cls(scenario, saved["seed"], float(saved["end_time_s"]), records, _run_id=run_id,
                     partial=bool(saved.get("partial", False)), events_kept=kept)
        if kept != FULL:
            result._tables = results.Tables.of_rows(*(table_files.read_table(root, name)
                                                      for name in table_files.TABLE_NAMES))
            result._summary = saved
        if "loads" in saved and all(table_files.has_table(root, name) for name in table_files.LOAD_TABLE_NAMES):
            link_rows, server_rows = (table_files.read_table(root, name) for name in table_files.LOAD_TABLE_NAMES)
            sessions: dict[str, list[int]] = {}
            for row in server_rows:
                sessions.setdefault(row["server"], []).append(row["sessions_max"])
            result._run_loads = loads.RunLoads(float(saved["loads"]["bin_s"]), link_rows, sessions)
            result._server_rows = server_rows
        return result


def check_bin_width(bin_s: float, scenario: Any) -> None:
    """ValueError unless ``bin_s`` is a bin width ``scenario`` can be run with (see
    :func:`simulator.binning.check_given_width`: a row of links.csv per link direction and one of
    servers.csv per server, each bin of the traffic period)."""
    from .binning import check_given_width

    check_given_width(bin_s, scenario.duration_s, 2 * len(scenario.links) + len(scenario.servers))


def run(
    scenario: Any,
    seed: int | None = None,
    progress: Progress | None = None,
    trace: bool = False,
    trace_messages: Iterable[str] | None = None,
    max_messages: int | None = None,
    stop: Callable[[], bool] | None = None,
    bin_s: float | None = None,
) -> Result:
    """Simulate ``scenario`` (with ``seed`` instead of its own, if given) to the end.

    With ``trace``, every session records its timeline (``Result.traces``) for transcripts and
    packet captures; ``trace_messages`` limits that to those messages' sessions. With
    ``max_messages``, the scenario is first held to that limit on expected mail (``ScenarioError``
    if it asks for more; ``load_scenario`` already held it to the limit it was given). ``progress`` is
    called with the run's :class:`~simulator.world.RunStatus` now and then (see ``World.run``).
    ``stop`` is asked as often whether to stop now (``mailsim run`` says yes after a Ctrl-C): the
    run then ends at the simulated time reached, and the Result is ``partial``: its tables and
    summary cover the run up to there, mail neither delivered nor bounced by then pending.
    ``bin_s`` is the width in seconds of the time bins of links.csv and servers.csv (ValueError if not
    positive, or so small that the tables would pass a million rows over the traffic period: see
    :func:`check_bin_width`); by default the smallest of a ladder of round widths that fits the run
    in 300 bins (:mod:`simulator.binning`).
    """
    from .scenario import Scenario
    from .world import World

    if not isinstance(scenario, Scenario):
        raise TypeError(f"run() takes a Scenario (from load_scenario), got {type(scenario).__name__}")
    if max_messages is not None:
        check_workload(scenario, max_messages)
    if bin_s is not None:
        check_bin_width(bin_s, scenario)
    wanted = frozenset(trace_messages) if trace_messages is not None else None
    world = World(scenario, seed, trace=trace, trace_messages=wanted, bin_s=bin_s)
    log = world.log

    def between_batches() -> bool:
        log.compact()  # the records so far into compact columns (memory only; see eventlog)
        return stop is not None and stop()

    end = world.run(progress, between_batches)
    log.compact()
    result = Result.of_world(world, end, seed, wanted)
    del world
    gc.collect()  # the world, held in reference cycles (processes, their environment), is garbage now
    return result
