"""One message's journey as a sequence chart, read from the event log alone.

:func:`build` turns the records of a message (and of the delivery status notifications about
it) into lanes (the sender's user agent, every server it touched, each recipient device) and
steps (SMTP submission and relay sessions, failed connects, cut sessions, deferrals, deliveries,
bounces, retrievals by POP3/IMAP/HTTP, outages of the servers on its way), one row per step.
:func:`draw` draws them; :func:`message_journey` does both. Long retry runs are folded into one
row so a message retried all day still fits on a page.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from matplotlib.axes import Axes

from .eventkinds import as_dict
from .eventlog import Record
from .plots import Figure, new_figure, short_duration

__all__ = ["Journey", "Lane", "Step", "UnknownMessageError", "build", "draw", "message_journey"]

MAX_ATTEMPTS_SHOWN = 6  # per client: more attempts than this and the middle ones are folded
SUBMIT_CONNECT_TIMEOUT_S = 30.0  # agents.py: a failed submission connect waits this long

PROTOCOL_EXCHANGE = {
    "pop3": "POP3: USER, PASS, STAT, RETR, DELE, QUIT",
    "imap": "IMAP: EXISTS, DONE, FETCH",
    "http": "HTTP webmail: GET inbox, GET message",
}


class UnknownMessageError(LookupError):
    """No message with this id is in the log."""


@dataclass(frozen=True, slots=True)
class Lane:
    """A participant: ``kind`` is ``agent`` (the sender's client), ``server`` or ``device``."""

    key: str
    title: str
    subtitle: str
    kind: str


@dataclass(frozen=True, slots=True)
class Step:
    """One row: an exchange between two lanes (``dst`` set) or a note on one lane (``dst`` None).

    ``kind``: ``submit``, ``relay``, ``retrieve`` (exchanges that moved the message), ``failed``
    (a connect that failed or a session cut), ``note``, ``bounce``, ``outage``, ``fold``.
    """

    time_s: float
    src: str
    dst: str | None
    label: str
    kind: str
    message_id: str = ""
    duration_s: float | None = None


@dataclass(slots=True)
class Journey:
    """Lanes left to right, steps top to bottom, and lane outages as (lane, start, end) times."""

    message_id: str
    title: str
    lanes: list[Lane] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    outages: list[tuple[str, float, float]] = field(default_factory=list)

    def lane(self, key: str) -> Lane:
        return next(lane for lane in self.lanes if lane.key == key)


# ---- building --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Message:
    mid: str
    created_s: float
    node: str
    f: dict[str, Any]
    events: list[tuple[float, str, str, dict[str, Any]]]


def _messages(records: Iterable[Record], message_id: str) -> list[_Message]:
    """The message and the DSNs about it (its bounce, delay warnings), each with its events."""
    wanted = {message_id}
    found: dict[str, _Message] = {}
    for time_s, event, mid, node, values in records:
        if mid not in wanted:
            if event != "created" or values[6] not in wanted:  # about
                continue
            wanted.add(mid)  # a DSN about the message (logged before bounce_sent names it)
        f = as_dict(event, values)
        if event == "created":
            found[mid] = _Message(mid, time_s, node, f, [])
        if event in ("bounce_sent", "warning_sent") and "dsn" in f:
            wanted.add(f["dsn"])
        if mid in found:
            found[mid].events.append((time_s, event, node, f))
    if message_id not in found:
        raise UnknownMessageError(f"no message {message_id!r} in the event log")
    return [found[m] for m in sorted(found, key=lambda m: found[m].created_s)]


def _clock(time_s: float) -> str:
    """Simulated time as ``[Nd ]hh:mm:ss.sss``."""
    days, rest = divmod(time_s, 86400.0)
    hours, rest = divmod(rest, 3600.0)
    minutes, seconds = divmod(rest, 60.0)
    text = f"{int(hours):02d}:{int(minutes):02d}:{seconds:06.3f}"
    return f"{int(days)}d {text}" if days else text


def _count(addresses: tuple[str, ...]) -> str:
    """``a@x, b@x`` for a few addresses, ``12 members`` for more."""
    return ", ".join(addresses) if len(addresses) <= 3 else f"{len(addresses)} members"


def _size(n_bytes: int) -> str:
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes} B"


@dataclass(slots=True)
class _Trace:
    """What one message's earlier events tell about the sessions that follow."""

    submit_start_s: float
    attempt_start_s: dict[str, float] = field(default_factory=dict)  # client -> its session's start
    accepted: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)  # (server, rcpts) accepted so far


class _Builder:
    """Collects lanes and steps for one journey."""

    def __init__(self, servers: Collection[str] | None, users: dict[str, Any]) -> None:
        self.servers = servers
        self.users = users  # address -> node, where known
        self.lanes: dict[str, Lane] = {}
        self.steps: list[Step] = []
        self.mailbox_at: dict[tuple[str, str], str] = {}  # (message, rcpt) -> server holding it

    def lane(self, key: str, title: str, subtitle: str, kind: str) -> str:
        if key not in self.lanes:
            self.lanes[key] = Lane(key, title, subtitle, kind)
        return key

    def server(self, name: str) -> str:
        return self.lane(name, name, "mail server", "server")

    def agent(self, address: str, node: str) -> str:
        return self.lane(f"ua:{address}", address, f"sends from {node}", "agent")

    def device(self, address: str, device: str, protocol: str) -> str:
        where = self.users.get(address)
        subtitle = f"device {device}, {protocol.upper()}" + (f"\nat {where}" if where else "")
        return self.lane(f"dev:{address}:{device}", address, subtitle, "device")

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def is_server(self, node: str, message: _Message, time_s: float) -> bool:
        if self.servers is not None and node not in self.servers:
            return False
        if node != message.node:
            return True
        # the client shares its node with a server: a submission unless that server already tried
        return any(ev == "attempt" and n == node and t <= time_s for t, ev, n, _ in message.events)

    def message(self, m: _Message) -> None:
        """Steps for one message's own events."""
        kind = m.f.get("kind", "mail")
        rcpts = ",".join(m.f.get("to", ()))
        if kind == "mail" and m.f.get("about"):  # a list's copy, made at the list's server
            origin = self.server(m.node)
            label = (f"{m.mid}: a list's copy of {m.f['about']}, from {m.f.get('sender', '?')}, "
                     f"to {_count(m.f.get('to', ()))}")
        elif kind == "mail":
            origin = self.agent(m.f.get("from", "?"), m.node)
            label = (f"{m.mid} written: to {rcpts.replace(',', ', ')}; {_size(int(m.f.get('size', 0)))}"
                     f" ({_size(int(m.f.get('wire', 0)))} on the wire)")
        else:
            origin = self.server(m.node)
            label = f"{m.mid}: {kind} DSN to {rcpts} about {m.f.get('about', '?')} (code {m.f.get('code', '?')})"
        self.add(Step(m.created_s, origin, None, label, "note" if kind == "mail" else "bounce", m.mid))
        trace = _Trace(submit_start_s=m.created_s)
        handlers = {
            "submit_failed": self._submit_failed, "attempt": self._attempt, "connect_failed": self._connect_failed,
            "session_cut": self._session_cut, "accepted": self._accepted, "deferred": self._deferred,
            "held": self._held, "expanded": self._expanded,
            "delivered": self._delivered, "duplicate": self._delivered, "bounced": self._bounced,
            "retrieved": self._retrieved, "reply": self._reader_action, "forward": self._reader_action,
            "filed": self._reader_action,
        }
        for t, ev, node, f in m.events:
            handler = handlers.get(ev)
            if handler is not None:
                handler(m, trace, t, ev, node, f)

    def _submit_failed(self, m: _Message, trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        retry = short_duration(float(f["next"]) - t) if "next" in f else "?"
        self.add(Step(t, self.agent(m.f.get("from", "?"), node), self.server(f.get("host", "?")),
                      f"submission failed ({f.get('code', '?')}); retry in {retry}", "failed", m.mid,
                      t - trace.submit_start_s))
        trace.submit_start_s = float(f.get("next", t))

    def _attempt(self, m: _Message, trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        trace.attempt_start_s[node] = t
        self.add(Step(t, self.server(node), None, f"attempt to {', '.join(f.get('hosts', ('?',)))}", "note",
                      m.mid))

    def _connect_failed(self, m: _Message, trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        start = trace.attempt_start_s.get(node, t)
        trace.attempt_start_s[node] = t  # the next MX is tried at once
        self.add(Step(t, self.server(node), self.server(f.get("host", "?")),
                      f"connect failed: no answer in {short_duration(t - start)} ({f.get('code', '?')})",
                      "failed", m.mid, t - start))

    def _session_cut(self, m: _Message, trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        start = trace.attempt_start_s.get(node, t)
        after = " after the 250 was sent: a duplicate follows" if f.get("accepted") is True else ""
        self.add(Step(t, self.server(node), self.server(f.get("host", "?")), f"session cut by an outage{after}",
                      "failed", m.mid, t - start))

    def _deferred(self, m: _Message, _trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        retry = short_duration(float(f["next"]) - t) if "next" in f else "?"
        self.add(Step(t, self.server(node), None, f"deferred ({f.get('code', '?')}): next attempt in {retry}", "note",
                      m.mid))

    def _held(self, m: _Message, _trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        why = "destination dead" if f.get("why") == "dead" else "host retry time not reached"
        until = short_duration(float(f["until"]) - t) if "until" in f else "?"
        self.add(Step(t, self.server(node), None, f"not tried: {why} for {until} more", "note", m.mid))

    def _expanded(self, m: _Message, _trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        if f.get("via") == "list":
            label = f"{f.get('rcpt', '?')} is a list: copy {f.get('copy', '?')} to {_count(f.get('to', ()))}"
        else:
            label = f"{f.get('rcpt', '?')} is an alias: on to {', '.join(f.get('to', ()))}"
        self.add(Step(t, self.server(node), None, label, "note", m.mid))

    def _delivered(self, m: _Message, _trace: _Trace, t: float, ev: str, node: str, f: dict[str, Any]) -> None:
        self.mailbox_at.setdefault((m.mid, f.get("rcpt", "")), node)
        what = "in the mailbox of" if ev == "delivered" else "duplicate copy for"
        self.add(Step(t, self.server(node), None, f"{what} {f.get('rcpt', '?')}", "note", m.mid))

    def _bounced(self, m: _Message, _trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        lane = self.server(node) if self.is_server(node, m, t) else self.agent(m.f.get("from", "?"), node)
        dsn = f.get("dsn", "-")
        tail = "" if dsn == "-" else f", DSN {dsn} to the sender"
        self.add(Step(t, lane, None, f"bounced {f.get('rcpt', '?')}: {f.get('code', '?')} {f.get('reason', '')}{tail}",
                      "bounce", m.mid))

    def _accepted(self, m: _Message, trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        client = f.get("from", "?")
        n = len(f.get("rcpts", ()))
        again = " again (a duplicate)" if (node, f.get("rcpts", ())) in trace.accepted else ""
        trace.accepted.add((node, f.get("rcpts", ())))
        if self.is_server(client, m, t):
            start = trace.attempt_start_s.get(client, t)
            label = f"SMTP relay, {n} rcpt{'s' if n > 1 else ''}: accepted{again} ({short_duration(t - start)})"
            self.add(Step(t, self.server(client), self.server(node), label, "relay", m.mid, t - start))
        else:
            start = trace.submit_start_s
            label = f"SMTP submission: accepted{again} ({short_duration(t - start)})"
            self.add(Step(t, self.agent(m.f.get("from", "?"), client), self.server(node), label, "submit", m.mid,
                          t - start))

    def _reader_action(self, m: _Message, _trace: _Trace, t: float, ev: str, node: str, f: dict[str, Any]) -> None:
        """A recipient replied to, forwarded or filed the message (a note on one of its devices)."""
        who = f.get("by") or f.get("rcpt", "?")
        lane = next((key for key, lane in self.lanes.items() if lane.kind == "device" and lane.title == who), None)
        if lane is None:
            lane = self.lane(f"reader:{who}", who, f"reads at {node}", "device")
        if ev == "filed":
            label = f"filed into {f.get('folder', '?')} ({f.get('where', '?')})"
        else:
            label = f"{who} {'replied' if ev == 'reply' else 'forwarded it'}: new message {f.get('new', '?')}"
        self.add(Step(t, lane, None, label, "note", m.mid))

    def _retrieved(self, m: _Message, _trace: _Trace, t: float, _ev: str, node: str, f: dict[str, Any]) -> None:
        rcpt = f.get("rcpt", "?")
        protocol = f.get("protocol", "?")
        holder = self.mailbox_at.get((m.mid, rcpt)) or node
        src = self.server(holder)
        dst = self.device(rcpt, f.get("device", "?"), protocol)
        delivered = next((tt for tt, ev, _n, ff in m.events if ev == "delivered" and ff.get("rcpt") == rcpt), None)
        waited = "" if delivered is None else f"; {short_duration(t - delivered)} after delivery"
        # the log has no record of when the retrieval session started: the step has no duration
        label = f"{PROTOCOL_EXCHANGE.get(protocol, protocol)}{waited}"
        self.add(Step(t, src, dst, label, "retrieve", m.mid, None))


def _outages(records: Iterable[Record], lanes: Collection[str], first_s: float, last_s: float,
             end_s: float) -> tuple[list[tuple[str, float, float]], list[Step]]:
    """Outages of lane servers (or of their links) overlapping the journey, and their rows."""
    spans: list[tuple[str, float, float]] = []
    steps: list[Step] = []
    down_since: dict[str, float] = {}
    for time_s, event, _mid, node, _detail in records:
        if event not in ("server_down", "server_up", "link_down", "link_up"):
            continue
        hit = [lane for lane in lanes if lane == node or lane in node.split("--")]
        if not hit:
            continue
        what = "link " + node if event.startswith("link") else node
        if event.endswith("down"):
            down_since.setdefault(node, time_s)
            if first_s <= time_s <= last_s:
                steps.append(Step(time_s, hit[0], None, f"{what} goes down", "outage"))
        else:
            start = down_since.pop(node, None)
            if start is not None and start <= last_s and time_s >= first_s:
                spans.extend((lane, start, time_s) for lane in hit)
            if first_s <= time_s <= last_s:
                steps.append(Step(time_s, hit[0], None, f"{what} is back up", "outage"))
    for node, start in down_since.items():
        if start <= last_s:
            spans.extend((lane, start, end_s) for lane in lanes if lane == node or lane in node.split("--"))
    return spans, steps


def _fold(steps: list[Step]) -> list[Step]:
    """Fold long retry runs: keep a client's first two and last two attempts (or failed
    submissions) and put one row in place of those between."""
    hidden: set[int] = set()
    folds: dict[int, Step] = {}
    attempts: dict[str, list[int]] = {}
    submissions: dict[str, list[int]] = {}
    for i, s in enumerate(steps):
        if s.kind == "note" and s.label.startswith("attempt"):
            attempts.setdefault(s.src, []).append(i)
        elif s.kind == "failed" and s.label.startswith("submission failed"):
            submissions.setdefault(s.src, []).append(i)
    for client, starts in attempts.items():
        if len(starts) <= MAX_ATTEMPTS_SHOWN:
            continue
        lo, hi = starts[2], starts[-2]
        hidden.update(i for i in range(lo, hi) if steps[i].src == client and (
            steps[i].kind == "failed" or steps[i].label.startswith(("attempt", "deferred"))))
        folds[lo] = Step(steps[lo].time_s, client, None, f"... {len(starts) - 4} more failed attempts (attempts 3 to "
                         f"{len(starts) - 2}, {_clock(steps[lo].time_s)} to {_clock(steps[hi].time_s)}) ...", "fold")
    for client, fails in submissions.items():
        if len(fails) <= MAX_ATTEMPTS_SHOWN:
            continue
        middle = fails[2:-2]
        hidden.update(middle)
        folds[middle[0]] = Step(steps[middle[0]].time_s, client, None,
                                f"... {len(middle)} more failed submissions ({_clock(steps[middle[0]].time_s)} to "
                                f"{_clock(steps[middle[-1]].time_s)}) ...", "fold")
    out: list[Step] = []
    for i, s in enumerate(steps):
        if i in folds:
            out.append(folds[i])
        if i not in hidden:
            out.append(s)
    return out


def build(records: Sequence[Record], message_id: str, servers: Collection[str] | None = None,
          users: dict[str, Any] | None = None, end_s: float | None = None) -> Journey:
    """The journey of ``message_id`` (raises :class:`UnknownMessageError` if it is not in the log).

    ``servers`` (names) tells servers from users' nodes; ``users`` maps addresses to the node their
    devices sit at (for lane captions); ``end_s`` ends an outage still running at the end.
    """
    messages = _messages(records, message_id)
    builder = _Builder(servers, users or {})
    for m in messages:
        builder.message(m)
    steps = sorted(builder.steps, key=lambda s: s.time_s)  # stable: log order within a time
    first_s, last_s = steps[0].time_s, steps[-1].time_s
    lane_keys = [key for key, lane in builder.lanes.items() if lane.kind == "server"]
    spans, outage_steps = _outages(records, lane_keys, first_s, last_s,
                                   end_s if end_s is not None else max(last_s, records[-1][0]))
    steps = sorted(steps + outage_steps, key=lambda s: s.time_s)
    steps = [s if not s.message_id or s.message_id == message_id or s.label.startswith(s.message_id)
             else replace(s, label=f"{s.message_id}: {s.label}") for s in steps]
    order = {"agent": 0, "server": 1, "device": 2}
    lanes = sorted(builder.lanes.values(), key=lambda lane: order[lane.kind])  # stable: first seen first
    main = messages[0] if messages[0].mid == message_id else next(m for m in messages if m.mid == message_id)
    title = (f"Journey of {message_id} ({main.f.get('kind', 'mail')}): {main.f.get('from', '?')} to "
             f"{', '.join(main.f.get('to', ('?',)))}")
    return Journey(message_id, title, lanes, _fold(steps), spans)


# ---- drawing ---------------------------------------------------------------------------------

_STYLE = {
    "submit": ("tab:blue", "-"),
    "relay": ("tab:blue", "-"),
    "retrieve": ("tab:green", "-"),
    "failed": ("tab:red", "--"),
}
_NOTE_COLOR = {"note": "black", "bounce": "tab:red", "outage": "dimgrey", "fold": "dimgrey"}
LANE_WIDTH_IN = 2.3
ROW_HEIGHT_IN = 0.34


def draw(journey: Journey) -> Figure:
    """The sequence chart: lanes across, one row per step down, simulated time on the left."""
    n_lanes = max(len(journey.lanes), 1)
    n_rows = len(journey.steps)
    width_in = min(max(3.0 + LANE_WIDTH_IN * n_lanes, 8.0), 18.0)
    height_in = 1.55 + ROW_HEIGHT_IN * (n_rows + 1)
    fig = new_figure(width_in, height_in)
    ax = fig.add_axes((1.55 / width_in, 0.3 / height_in, 1 - 1.75 / width_in, 1 - 1.5 / height_in))
    x_of = {lane.key: i for i, lane in enumerate(journey.lanes)}
    ax.set_xlim(-0.6, n_lanes - 0.4)
    ax.set_ylim(n_rows, -1)
    for lane in journey.lanes:
        x = x_of[lane.key]
        ax.vlines(x, -0.5, n_rows - 0.5, colors="lightgrey", linestyles="-", linewidth=1.2, zorder=0)
    _shade_outages(ax, journey, x_of)
    for row, step in enumerate(journey.steps):
        _draw_step(ax, step, row, x_of, n_lanes)
    ax.set_yticks(range(n_rows), [_clock(s.time_s) for s in journey.steps], fontsize=7.5, family="monospace")
    ax.set_ylabel("simulated time (hh:mm:ss.sss; rows not to scale)", fontsize=8)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xticks(range(n_lanes), [f"{lane.title}\n{lane.subtitle}" for lane in journey.lanes], fontsize=8)
    ax.set_xlabel("participants: the sender's user agent, servers, recipients' devices", fontsize=8)
    for spine in ("right", "bottom", "left"):
        ax.spines[spine].set_visible(False)
    ax.tick_params(axis="x", length=0)
    fig.suptitle(journey.title, fontsize=10, y=1 - 0.12 / height_in, va="top")
    fig.text(0.99, 0.06 / height_in, "blue: SMTP; green: retrieval by a device; red dashed with x: a failed connect "
             "or a cut session; red band: server down", ha="right", va="bottom", fontsize=7, color="dimgrey")
    return fig


def _shade_outages(ax: Axes, journey: Journey, x_of: dict[str, int]) -> None:
    times = [s.time_s for s in journey.steps]
    for lane, start, end in journey.outages:
        if lane not in x_of:
            continue
        top = _row_at(times, start, before=True)
        bottom = _row_at(times, end, before=False)
        ax.fill_between([x_of[lane] - 0.08, x_of[lane] + 0.08], top, bottom,
                        color="tab:red", alpha=0.25, linewidth=0, zorder=0.5)


def _row_at(times: Sequence[float], t: float, before: bool) -> float:
    """The row position of time ``t`` (between rows when it falls between them)."""
    if before:
        rows = [i for i, s in enumerate(times) if s >= t]
        return (rows[0] - 0.5) if rows else len(times) - 0.5
    rows = [i for i, s in enumerate(times) if s <= t]
    return (rows[-1] + 0.5) if rows else -0.5


def _draw_step(ax: Axes, step: Step, row: int, x_of: dict[str, int], n_lanes: int) -> None:
    x = x_of[step.src]
    if step.dst is None:
        color = _NOTE_COLOR.get(step.kind, "black")
        ax.plot([x], [row], marker="o", markersize=4, color=color, zorder=3)
        right = x < n_lanes - 1 or n_lanes == 1
        ax.text(x + (0.06 if right else -0.06), row, step.label, fontsize=7.5, color=color,
                ha="left" if right else "right", va="center", style="italic" if step.kind == "fold" else "normal",
                zorder=4, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.5})
        return
    x2 = x_of[step.dst]
    color, style = _STYLE.get(step.kind, ("black", "-"))
    arrow = ax.annotate("", xy=(x2, row), xytext=(x, row), zorder=3,
                        arrowprops={"arrowstyle": "-|>", "color": color, "linestyle": style, "linewidth": 1.3,
                                    "shrinkA": 2, "shrinkB": 2})
    arrow.set_gid(f"{step.kind}:{step.src}->{step.dst}")
    if step.kind == "failed":
        ax.plot([x2], [row], marker="x", markersize=8, color=color, markeredgewidth=2, zorder=4)
    ax.text((x + x2) / 2, row - 0.12, step.label, fontsize=7.5, color=color, ha="center",
            va="bottom", zorder=4, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.3})


def message_journey(records: Sequence[Record], message_id: str, servers: Collection[str] | None = None,
                    users: dict[str, Any] | None = None, end_s: float | None = None) -> Figure:
    """Build and draw the journey of ``message_id``."""
    return draw(build(records, message_id, servers, users, end_s))
