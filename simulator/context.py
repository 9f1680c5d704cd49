"""The services every simulated component shares: clock, network, session registry, log, ids,
and the run's end condition (:class:`simulator.end_of_run.EndOfRun`, ``ctx.end``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from . import kernel
from .end_of_run import EndOfRun
from .eventlog import EventLog
from .network import Network
from .sessions import Sessions

if TYPE_CHECKING:
    from .agents import UserAgent
    from .server import MailServer


class Context:
    """Shared state of one simulated world."""

    def __init__(self, env: simpy.Environment, net: Network, log: EventLog) -> None:
        self.env = env
        self.net = net
        self.log = log
        # The log's own append for one record given whole, ``(time_s, event, message_id, node,
        # values)``: the per-message hot paths call it directly, saving ``record``'s frame.
        self.append_record = log.extend
        self.clock = kernel.clock(env)  # the simulated time, read cheaply: ``ctx.clock()``
        self.sessions = Sessions(env)
        self.servers: dict[str, MailServer] = {}
        self.agents: dict[str, UserAgent] = {}
        self.dns: dict[str, tuple[tuple[str, int], ...]] = {}  # domain -> ((host, preference), ...)
        self.home: dict[str, str] = {}  # domain -> server holding its mailboxes
        self.end = EndOfRun(env, self.sessions.tails_until)  # hold/release: when the run is done
        self.done = self.end.done
        self._next_id = 0
        # Session traces for transcripts and packet captures; None unless recording was asked for.
        self.traces: list[dict[str, Any]] | None = None
        self.trace_filter: frozenset[str] | None = None  # message ids to record; None: all

    def trace(
        self, protocol: str, client: str, server: str, message_id: str = "", **fields: Any
    ) -> dict[str, Any] | None:
        """A new session trace to fill in, or None when not recording (or not this message)."""
        wanted = self.trace_filter
        if self.traces is None or (wanted is not None and message_id and message_id not in wanted):
            return None
        record: dict[str, Any] = {"protocol": protocol, "client": client, "server": server,
                                  "message_id": message_id, "seq": len(self.traces), **fields}
        self.traces.append(record)
        return record

    def keep_trace(self, record: dict[str, Any] | None, message_ids: list[str]) -> None:
        """Drop a retrieval session's trace that fetched none of the filtered messages."""
        if record is None or self.trace_filter is None or self.traces is None:
            return
        if not any(m in self.trace_filter for m in message_ids):
            self.traces.remove(record)

    def record(self, event: str, message_id: str = "", node: str = "", values: tuple[Any, ...] = ()) -> None:
        """Append a record to the event log, stamped with the current simulated time: ``values``
        are the fields of ``event`` in the order :mod:`simulator.eventkinds` declares them."""
        self.append_record((self.clock(), event, message_id, node, values))

    @property
    def messages_created(self) -> int:
        """Messages given an id so far (mail and DSNs)."""
        return self._next_id

    def new_id(self, prefix: str = "m") -> str:
        self._next_id += 1
        return f"{prefix}{self._next_id}"

    @property
    def busy(self) -> int:
        """Work still outstanding (see :class:`EndOfRun`)."""
        return self.end.count
