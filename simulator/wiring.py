"""What each simulated component is given: narrow interfaces onto the world's shared services.

The world's services are the clock and the event log (:class:`Recorder`), the end-of-run
counter (:class:`Counted`, the one object that decides when a run is done), message ids
(:class:`Naming`), the network and its session registry (:class:`Connecting`), session traces
for transcripts (:class:`Tracing`) and the directory of servers, users, DNS and mailbox homes.
:class:`simulator.context.Context` provides them all, but no component is typed against it:
each takes the interface below that names exactly what it uses, and mypy holds it to that. A
component that starts using another service has to say so here, where a reader sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import simpy

    from .agents import UserAgent
    from .end_of_run import EndOfRun
    from .eventlog import Record
    from .network import Network
    from .protocols.trace import SessionTrace, SmtpTrace
    from .server import MailServer
    from .sessions import Sessions

R = TypeVar("R", bound="SessionTrace")


class Recorder(Protocol):
    """The simulated clock and the event log, its only writer."""

    @property
    def env(self) -> simpy.Environment: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    @property
    def append_record(self) -> Callable[[Record], None]: ...

    def record(self, event: str, message_id: str = "", node: str = "", values: tuple[Any, ...] = ()) -> None: ...


class Counted(Protocol):
    """The end-of-run counter: work held is released before the run may end."""

    @property
    def end(self) -> EndOfRun: ...


class Naming(Protocol):
    """Message ids, numbered in creation order."""

    def new_id(self, prefix: str = "m") -> str: ...


class Connecting(Protocol):
    """The network (paths, transfers) and the registry of open sessions that outages cut."""

    @property
    def net(self) -> Network: ...
    @property
    def sessions(self) -> Sessions: ...


class Tracing(Protocol):
    """Session traces for transcripts and captures (None when not recording)."""

    @property
    def traces(self) -> list[SessionTrace] | None: ...

    def trace(self, protocol: str, client: str, server: str, message_id: str = "", *, t0: float | None = None,
              connect_failed: bool = False, timeout_s: float = 0.0, user: str = "") -> SmtpTrace | None: ...

    def trace_retrieval(self, kind: type[R], protocol: str, client: str, server: str, user: str,
                        device: int) -> R | None: ...

    def keep_trace(self, trace: SessionTrace | None) -> None: ...


class Servers(Protocol):
    """The mail servers by name."""

    @property
    def servers(self) -> dict[str, MailServer]: ...


class Routing(Servers, Protocol):
    """Where mail for a domain goes: its MX hosts and the server holding its mailboxes."""

    @property
    def dns(self) -> dict[str, tuple[tuple[str, int], ...]]: ...
    @property
    def home(self) -> dict[str, str]: ...


class Users(Protocol):
    """The user agents by address."""

    @property
    def agents(self) -> dict[str, UserAgent]: ...


# ---- what each component is given -------------------------------------------------------------


class Composing(Recorder, Naming, Protocol):
    """Making a new message: an id, the time, and its ``created`` record."""


class ServerWiring(Recorder, Counted, Naming, Connecting, Tracing, Routing, Protocol):
    """A mail server, its delivery jobs, workers, admission limits and lists: it records, holds
    work, makes DSNs and list copies, opens sessions to the next hop found through DNS."""


class AgentWiring(Recorder, Counted, Connecting, Tracing, Protocol):
    """A user agent and its devices: it records, holds work, submits and retrieves over the network."""


class OutageWiring(Recorder, Connecting, Servers, Protocol):
    """An outage target: it records, takes links and hosts down, cuts their sessions, tells its server."""


class TrafficWiring(Composing, Counted, Users, Protocol):
    """A traffic source: it names new messages and hands them to their senders' agents."""


class BehaviourWiring(Composing, Counted, Protocol):
    """What readers do with mail (reply, forward, file): it records, holds work for a think time,
    and writes replies and forwards."""
