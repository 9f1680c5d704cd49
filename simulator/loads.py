"""Where capacity runs out: the time-binned load tables (links.csv, servers.csv) and the summary's
most loaded link and server.

``links.csv`` comes from the network's own count of the bits each link carried in each direction
per bin (:mod:`simulator.binning`; the event log has no record of bits in flight). ``servers.csv``
comes from the event log (queue length, accepted, delivered, sent, refusals by code and by capacity
limit, busy workers) and from each
server's count of open inbound sessions kept during the run (the log records no session opening).
Both are O(bins) in size, whatever the number of messages. See docs/events.md, "Load tables".

``servers.csv`` is counted over numpy columns of the records it reads (their servers as numbers,
their bins), with no Python step per record but for the refusals: 0.033 s of CPU at 100k
messages and 0.32 s at 1M, where a loop per record took 0.24 s and 2.5 s (the benchmark's
scenario, in one process).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .addresses import domain_of
from .binning import bin_count
from .collector import while_paused
from .eventkinds import index
from .eventlog import FIELDS, Record
from .logcolumns import EVENT, MESSAGE_ID, NODE, TIME, VALUES, LogColumns, log_columns

if TYPE_CHECKING:
    from .network import Network

LINK_COLUMNS = ("time", "duration_s", "link", "direction", "bytes", "throughput_bps", "utilisation")
REFUSAL_CODES = ("421", "450", "452", "550", "552", "554")
"""The codes counted in servers.csv (``refused_<code>``); 451 (a cut session) and 250 are not refusals."""
LIMITS = ("max_inbound", "rate_limit", "queue_limit")
"""The capacity limits whose refusals servers.csv counts (``refused_<limit>``, from ``refused`` records)."""
CAPACITY_COLUMNS = ("workers_busy_max", *(f"refused_{why}" for why in LIMITS))
"""Server capacity's columns: the most messages being processed at once (``processing`` to
``processed``) and the refusals of each limit, at the server when it refused."""
SERVER_COLUMNS = ("time", "duration_s", "server", "queue_max", "queue_end", "accepted", "delivered", "sent",
                  "sessions_max", *(f"refused_{code}" for code in REFUSAL_CODES), *CAPACITY_COLUMNS)
_INT_COLUMNS = SERVER_COLUMNS[3:]


@dataclass(frozen=True, slots=True)
class RunLoads:
    """What the run itself counted per bin: the bin width, the links.csv rows, and each server's
    maximum of open inbound sessions per bin."""

    bin_s: float
    links: list[dict[str, Any]]
    sessions: dict[str, list[int]]


def _bin_edges(end_s: float, bin_s: float) -> list[tuple[float, float]]:
    """(start, length) of each bin covering ``[0, end_s]``; the last ends at ``end_s`` (if after its start)."""
    count = bin_count(end_s, bin_s)
    edges = [(k * bin_s, bin_s) for k in range(count)]
    last_start = edges[-1][0]
    if end_s > last_start:
        edges[-1] = (last_start, end_s - last_start)
    return edges


def from_run(net: Network, servers: Mapping[str, Any], end_s: float) -> RunLoads:
    """The counts the run kept, finished at its end ``end_s``."""
    bins = net.bins
    bins.reach(end_s)  # quiet at the end, the run may not have widened them yet
    bin_s = bins.width_s
    edges = _bin_edges(end_s, bin_s)
    count = len(edges)
    rows: list[dict[str, Any]] = []
    carried = [(link, ((link.a, link.b), (link.b, link.a)), (a_b, b_a)) for link, a_b, b_a in net.link_bits(count)]
    for k, (start_s, length_s) in enumerate(edges):
        for link, ends, bits in carried:
            for (a, b), per_bin in zip(ends, bits, strict=True):
                throughput = per_bin[k] / length_s if length_s > 0 else 0.0
                rows.append({
                    "time": start_s, "duration_s": length_s, "link": link.name, "direction": f"{a}->{b}",
                    "bytes": per_bin[k] / 8.0, "throughput_bps": throughput,
                    "utilisation": None if link.bandwidth_bps is None else throughput / link.bandwidth_bps,
                })
    sessions = {name: server.inbound.finish(count) for name, server in sorted(servers.items())}
    return RunLoads(bin_s, rows, sessions)


@while_paused
def server_rows(records: Sequence[Record] | LogColumns, run: RunLoads, end_s: float,
                home_of: Mapping[str, str]) -> list[dict[str, Any]]:
    """servers.csv: per bin, per server (in name order). ``home_of`` maps a domain to its server
    (a submission refusal is counted at the sender's own server).

    Only the kinds of record that count are read, each a column at a time as numpy arrays (the
    records' servers as numbers, their bins): ``accepted``, ``delivered`` and ``sent`` are counted
    per (server, bin) at once; the queue lengths and busy workers are reduced per (server, bin),
    their maximum and their last value in log order (the level at the end of a bin); only the
    refusals are walked record by record."""
    import numpy as np

    log = log_columns(records)
    bin_s = run.bin_s
    edges = _bin_edges(end_s, bin_s)
    count = len(edges)
    names = sorted(run.sessions)
    where = _Located(log, names, bin_s, count)
    cells = {column: np.zeros(len(names) * count, dtype=np.int64) for column in _INT_COLUMNS}
    for event in ("accepted", "delivered", "sent"):
        cells[event] = np.bincount(where.of(event)[0], minlength=len(names) * count)
    # the queue length and the busy workers: their maximum in each bin, and their last value in it
    key, part = where.of("enqueued", "dequeued")
    queue_max, queue_last = _per_bin(key, _first_values(log, part), len(names) * count)
    key, part = where.of("processing", "processed")
    kinds, kind_names = log.codes_at(EVENT, part)
    busy_max, busy_last = _per_bin(key, _running_sum(key // count, np.where(
        kinds == kind_names.index("processing"), 1, -1)), len(names) * count)
    cells["queue_max"], cells["workers_busy_max"] = np.maximum(queue_max, 0), np.maximum(busy_max, 0)
    for (column, at), n in _refusal_counts(log, where, home_of).items():
        cells[column][at] += n
    grid = {column: cells[column].reshape(len(names), count).tolist() for column in _INT_COLUMNS}
    ends = {"queue": queue_last.reshape(len(names), count).tolist(),
            "busy": busy_last.reshape(len(names), count).tolist()}
    out: list[dict[str, Any]] = []
    queue, busy = [0] * len(names), [0] * len(names)  # at the start of the bin
    for k, (start_s, length_s) in enumerate(edges):
        for s, name in enumerate(names):
            row_out: dict[str, Any] = {"time": start_s, "duration_s": length_s, "server": name,
                       **{column: grid[column][s][k] for column in _INT_COLUMNS}}
            row_out["queue_max"] = max(row_out["queue_max"], queue[s])
            row_out["workers_busy_max"] = max(row_out["workers_busy_max"], busy[s])
            row_out["sessions_max"] = run.sessions[name][k]
            queue_end, busy_end = ends["queue"][s][k], ends["busy"][s][k]
            queue[s] = queue[s] if queue_end is None else queue_end
            busy[s] = busy[s] if busy_end is None else busy_end
            row_out["queue_end"] = queue[s]
            out.append(row_out)
    return out


_REFUSALS = ("refused", "connect_failed", "rcpt_deferred", "submit_failed", "bounced")
"""The records that may count as a refusal (see :func:`_refuser`)."""
_WHY = index("refused", "why")
_PART_RECORDS = 65_536
"""Records whose values are read at a time (a list of positions takes about 36 bytes a record)."""


class _Located:
    """Where the records of some kinds count in servers.csv: each record's cell, ``server * count +
    bin`` (servers numbered in name order), for the records at a server only."""

    def __init__(self, log: LogColumns, names: Sequence[str], bin_s: float, count: int) -> None:
        self.log, self.bin_s, self.count = log, bin_s, count
        self.server_number = {name: s for s, name in enumerate(names)}

    def of(self, *kinds: str) -> tuple[Any, Any]:
        """The cells of the records of ``kinds`` at a server, in log order, and those records' positions
        (numpy arrays)."""
        import numpy as np

        log = self.log
        positions = log.positions(*kinds)
        nodes, node_names = log.codes_at(NODE, positions)
        servers = np.array([self.server_number.get(name, -1) for name in node_names], dtype=np.int64)[nodes]
        at_server = servers >= 0
        positions, servers = positions[at_server], servers[at_server]
        return servers * self.count + self.bins(np.asarray(log.array_at(TIME, positions), dtype=np.float64)), positions

    def bins(self, times_s: Any) -> Any:
        """The bin of each time (a numpy array), the last bin for a time after it."""
        import numpy as np

        return np.minimum(np.floor_divide(times_s, self.bin_s).astype(np.int64), self.count - 1)

    def cell(self, server: str, time_s: float) -> int | None:
        """The cell of one record at ``server`` at ``time_s`` (None if ``server`` is not one)."""
        s = self.server_number.get(server)
        return None if s is None else s * self.count + min(int(time_s // self.bin_s), self.count - 1)


def _first_values(log: LogColumns, positions: Any) -> Any:
    """The first of the values of the records at ``positions`` (integers), as a numpy array."""
    import numpy as np

    out = np.empty(len(positions), dtype=np.int64)
    for start in range(0, len(positions), _PART_RECORDS):
        part = positions[start:start + _PART_RECORDS].tolist()
        out[start:start + len(part)] = list(map(itemgetter(0), log.at(VALUES, part)))
    return out


def _running_sum(groups: Any, steps: Any) -> Any:
    """Each record's running sum of ``steps`` over the records of its group before it and itself,
    in log order (numpy arrays)."""
    import numpy as np

    order = np.argsort(groups, kind="stable")
    sums = np.cumsum(steps[order])
    first = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1]]) if len(order) else order
    before = np.repeat((sums - steps[order])[first], np.diff(np.r_[first, len(order)]))  # the sum before each group
    out = np.empty_like(sums)
    out[order] = sums - before
    return out


def _per_bin(cells: Any, levels: Any, size: int) -> tuple[Any, Any]:
    """A level's maximum in each of ``size`` cells (0 where it did not change) and its last value
    there in log order (None where it did not change, as a numpy array of objects)."""
    import numpy as np

    order = np.argsort(cells, kind="stable")
    cells, levels = cells[order], levels[order]
    maxima = np.zeros(size, dtype=np.int64)
    last = np.full(size, None, dtype=object)
    if len(cells):
        first = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        maxima[cells[first]] = np.maximum.reduceat(levels, first)
        last[cells[first]] = levels[np.r_[first[1:], len(cells)] - 1].tolist()
    return maxima, last


def _refusal_counts(log: LogColumns, where: _Located, home_of: Mapping[str, str]) -> Counter[tuple[str, int]]:
    """The refusals counted per (column, cell) of servers.csv: a ``refused`` record's at its server, by
    limit; a refusal a client records at the server that refused it, by code (see :func:`_refuser`)."""
    authors = _submission_authors(log)
    counts: Counter[tuple[str, int]] = Counter()
    for part in log.where_in_parts(*_REFUSALS):
        for time_s, event, mid, node, values in zip(*(log.at(f, part) for f in range(FIELDS)), strict=True):
            if event == "refused":
                cell = where.cell(node, time_s)
                if cell is not None:
                    counts[(f"refused_{values[_WHY]}", cell)] += 1
                continue
            refuser = _refuser(event, values, authors.get(mid, ""), home_of)
            if refuser is not None and refuser[1] in REFUSAL_CODES:
                cell = where.cell(refuser[0], time_s)
                if cell is not None:
                    counts[(f"refused_{refuser[1]}", cell)] += 1
    return counts


def _submission_authors(log: LogColumns) -> dict[str, str]:
    """The author of each message refused at its submission (``bounced reason=submission``): the
    only refusals counted by who sent them. Each such message's ``created`` record is looked for
    back from its refusal, a growing window of ``created`` records at a time (it comes shortly
    before): no message id of every message read (a random read each, at a million messages
    most of this step's time), and no map of every message to its author (about 100 bytes a message)."""
    import numpy as np

    bounced = log.where("bounced")
    bounces = zip(bounced, log.at(MESSAGE_ID, bounced), log.at(VALUES, bounced), strict=True)
    refused: dict[str, int] = {}  # message id -> its first refusal's position
    for at, mid, (_rcpt, _code, reason, _dsn, host) in bounces:
        if reason == "submission" and host is None:
            refused.setdefault(mid, at)
    if not refused:
        return {}
    made = log.positions("created")
    authors: dict[str, str] = {}
    for mid, at in refused.items():
        stop, window = int(np.searchsorted(made, at)), 64
        while stop > 0:
            start = max(0, stop - window)
            part = made[start:stop].tolist()
            ids = log.at(MESSAGE_ID, part)
            if mid in ids:
                authors[mid] = log.at(VALUES, [part[len(ids) - 1 - ids[::-1].index(mid)]])[0][1]
                break
            stop, window = start, window * 4
    return authors


def _refuser(event: str, values: tuple[Any, ...], author: str, home_of: Mapping[str, str]) -> tuple[str, str] | None:
    """(the server that refused or did not answer, the code) of a refusal record, else None.

    A client's record names the host it tried: ``connect_failed`` (421: it did not answer),
    ``rcpt_deferred`` (450), ``bounced`` with a ``host`` (a permanent refusal) and
    ``submit_failed`` with 421. A submission refusal (``bounced reason=submission``) counts at
    the author's own server.
    """
    if event in ("connect_failed", "rcpt_deferred"):
        return values[0], values[-1]
    if event == "submit_failed":
        return values[0], values[1]
    if event == "bounced":
        _rcpt, code, reason, _dsn, host = values
        if host is not None:
            return host, code
        if reason == "submission":
            home = home_of.get(domain_of(author)) if "@" in author else None
            return None if home is None else (home, code)
    return None


def most_loaded(links: Sequence[dict[str, Any]], servers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary's ``loads``: the most loaded link (highest bin utilisation, first in time on a tie)
    and the most loaded server (highest peak of queue length or open sessions)."""
    link = None
    for r in links:
        u = r["utilisation"]
        if u is not None and u > 0 and (link is None or u > link["utilisation"]):
            link = {"link": r["link"], "direction": r["direction"], "utilisation": u, "at_s": r["time"]}
    server = None
    for r in servers:
        for by, value in (("queue", r["queue_max"]), ("sessions", r["sessions_max"])):
            if value > 0 and (server is None or value > server["peak"]):
                server = {"server": r["server"], "by": by, "peak": value, "at_s": r["time"]}
    return {"most_loaded_link": link, "most_loaded_server": server}
