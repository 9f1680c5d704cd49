"""The services every simulated component shares: clock, network, session registry, log, ids,
and the run's end condition (:class:`simulator.end_of_run.EndOfRun`, ``ctx.end``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import simpy

from . import kernel
from .end_of_run import EndOfRun
from .eventlog import EventLog
from .network import Network
from .protocols.trace import SessionTrace, SmtpTrace
from .sessions import Sessions

if TYPE_CHECKING:
    from .agents import UserAgent
    from .server import MailServer

R = TypeVar("R", bound=SessionTrace)


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
        self.traces: list[SessionTrace] | None = None
        self.trace_filter: frozenset[str] | None = None  # message ids to record; None: all

    def trace(
        self, protocol: str, client: str, server: str, message_id: str = "", *, t0: float | None = None,
        connect_failed: bool = False, timeout_s: float = 0.0, user: str = "",
    ) -> SmtpTrace | None:
        """A new SMTP or submission session trace for the session to fill in (with ``connect_failed``,
        complete: the connect at ``t0`` got no answer for ``timeout_s``), or None when not recording
        (or not this message)."""
        wanted = self.trace_filter
        if self.traces is None or (wanted is not None and message_id and message_id not in wanted):
            return None
        trace = SmtpTrace(protocol, client, server, len(self.traces), message_id, user)
        if t0 is not None:
            trace.start_s = float(t0)
        if connect_failed:
            trace.connect_timeout_s = timeout_s
        self.traces.append(trace)
        return trace

    def trace_retrieval(self, kind: type[R], protocol: str, client: str, server: str, user: str,
                        device: int) -> R | None:
        """A new retrieval session trace of ``kind`` for the session to fill in, or None when not
        recording (with a filter, :meth:`keep_trace` drops it again if it fetched none of them)."""
        if self.traces is None:
            return None
        trace = kind(protocol, client, server, len(self.traces), "", user, device)
        self.traces.append(trace)
        return trace

    def keep_trace(self, trace: SessionTrace | None) -> None:
        """Drop a retrieval session's trace that fetched none of the filtered messages."""
        if trace is None or self.trace_filter is None or self.traces is None:
            return
        if not any(m in self.trace_filter for m in trace.fetched_ids()):
            self.traces.remove(trace)

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
