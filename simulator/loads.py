"""Where capacity runs out: the time-binned load tables (links.csv, servers.csv) and the summary's
most loaded link and server.

``links.csv`` comes from the network's own count of the bits each link carried in each direction
per bin (:mod:`simulator.binning`; the event log has no record of bits in flight). ``servers.csv``
comes from the event log (queue length, accepted, delivered, sent, refusals by code and by capacity
limit, busy workers) and from each
server's count of open inbound sessions kept during the run (the log records no session opening).
Both are O(bins) in size, whatever the number of messages. See docs/events.md, "Load tables".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .addresses import domain_of
from .binning import bin_count
from .collector import while_paused
from .eventkinds import index
from .eventlog import FIELDS, Record
from .logcolumns import MESSAGE_ID, NODE, TIME, VALUES, LogColumns, log_columns

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

    Only the kinds of record that count are read: ``accepted``, ``delivered`` and ``sent`` are
    counted per (server, bin) at once; the queue and worker changes and the refusals are walked
    in log order (the level at the end of a bin is the last one in it)."""
    log = log_columns(records)
    bin_s = run.bin_s
    edges = _bin_edges(end_s, bin_s)
    count = len(edges)
    last = count - 1
    names = sorted(run.sessions)
    table = {name: [dict.fromkeys(_INT_COLUMNS, 0) for _ in range(count)] for name in names}
    # the queue length and the busy workers at the end of each bin in which they changed
    ends: dict[str, dict[str, list[int | None]]] = {
        level: {name: [None] * count for name in names} for level in ("queue", "busy")}
    busy = dict.fromkeys(names, 0)

    for event in ("accepted", "delivered", "sent"):
        positions = log.where(event)
        counted = Counter(zip(log.at(NODE, positions), (min(int(t // bin_s), last) for t in log.at(TIME, positions)),
                              strict=True))
        for (node, k), n in counted.items():
            rows = table.get(node)
            if rows is not None:
                rows[k][event] += n
    authors = _submission_authors(log)
    # read a field at a time, a part of the records at a time: no tuple kept per record, and no
    # column of them all (at a million messages the queue changes alone are four million records)
    changes = (zip(*(log.at(f, part) for f in range(FIELDS)), strict=True)
               for part in log.where_in_parts(*_LEVELS, *_REFUSALS))
    for time_s, event, mid, node, values in chain.from_iterable(changes):
        if event in _LEVELS:
            rows = table.get(node)
            if rows is None:
                continue
            k = min(int(time_s // bin_s), last)
            if event in ("enqueued", "dequeued"):
                ends["queue"][node][k] = values[0]
                rows[k]["queue_max"] = max(rows[k]["queue_max"], values[0])
            else:
                now_busy = busy[node] = busy[node] + (1 if event == "processing" else -1)
                ends["busy"][node][k] = now_busy
                rows[k]["workers_busy_max"] = max(rows[k]["workers_busy_max"], now_busy)
        elif event == "refused":
            rows = table.get(node)
            if rows is not None:
                rows[min(int(time_s // bin_s), last)][f"refused_{values[_WHY]}"] += 1
        else:
            refuser = _refuser(event, values, authors.get(mid, ""), home_of)
            if refuser is not None:
                rows = table.get(refuser[0])
                if rows is not None and refuser[1] in REFUSAL_CODES:
                    rows[min(int(time_s // bin_s), last)][f"refused_{refuser[1]}"] += 1
    out: list[dict[str, Any]] = []
    queue, busy = dict.fromkeys(names, 0), dict.fromkeys(names, 0)  # at the start of the bin
    for k, (start_s, length_s) in enumerate(edges):
        for name in names:
            r = table[name][k]
            row_out = {"time": start_s, "duration_s": length_s, "server": name, **r,
                       "queue_max": max(r["queue_max"], queue[name]),
                       "workers_busy_max": max(r["workers_busy_max"], busy[name]),
                       "sessions_max": run.sessions[name][k]}
            queue_end, busy_end = ends["queue"][name][k], ends["busy"][name][k]
            queue[name] = queue[name] if queue_end is None else queue_end
            busy[name] = busy[name] if busy_end is None else busy_end
            row_out["queue_end"] = queue[name]
            out.append(row_out)
    return out


_LEVELS = ("enqueued", "dequeued", "processing", "processed")
"""The records that change a server's queue length or its busy workers."""
_REFUSALS = ("refused", "connect_failed", "rcpt_deferred", "submit_failed", "bounced")
"""The records that may count as a refusal (see :func:`_refuser`)."""
_WHY = index("refused", "why")


def _submission_authors(log: LogColumns) -> dict[str, str]:
    """The author of each message refused at its submission (``bounced reason=submission``): the
    only refusals counted by who sent them. Only those messages' ``created`` records are read (a
    map of every message to its author would take about 100 bytes a message)."""
    bounced = log.where("bounced")
    bounces = zip(log.at(MESSAGE_ID, bounced), log.at(VALUES, bounced), strict=True)
    refused = {mid for mid, (_rcpt, _code, reason, _dsn, host) in bounces if reason == "submission" and host is None}
    if not refused:
        return {}
    made = log.where("created")
    made = [at for at, mid in zip(made, log.at(MESSAGE_ID, made), strict=True) if mid in refused]
    return dict(zip(log.at(MESSAGE_ID, made), map(itemgetter(1), log.at(VALUES, made)), strict=True))


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
