"""An IMAP device's session (RFC 9051), held open, as timers and transfer callbacks.

The client connects at its offset (TCP, greeting, LOGIN, SELECT: 4 RTT), fetches what is new,
then waits. With IDLE (RFC 2177) the server's EXISTS wakes it when mail arrives: EXISTS
reaching the device (``d``) and DONE with the IDLE's OK (1 RTT) are the first FETCH's lead-in.
Without IDLE it sends NOOP (1 RTT) at its next poll time after new mail, then fetches. Each
FETCH is one transfer: the request's trip (``d``), the body through the shared links, its last
byte's trip back (``d``). Messages are fetched in the order they were delivered, each once.

An outage of the server or the path cuts the session (the fetch in progress is abandoned and
fetched again later); the client reconnects at the next multiple of ``poll`` after the cut at
which the server answers. A client that cannot connect tries again at its next poll.
The waits and lead-ins are the IMAP stretches of :mod:`simulator.protocols.retrieval`. With a
trace (:class:`~simulator.protocols.trace.ImapTrace`), each round of fetches (after SELECT,
EXISTS, NOOP, or more mail meanwhile) is recorded with its trigger, its time and its fetches.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from . import kernel
from .message import Message
from .network import Flow, Path
from .protocols.retrieval import IMAP_CONNECT, IMAP_EXISTS, IMAP_NOOP, Fetches, start_fetch
from .protocols.trace import Fetch, ImapRound, ImapTrace

if TYPE_CHECKING:
    from .devices import Device

CONNECT_TIMEOUT_S = 30.0  # a client that cannot connect gives up after this long
TICK_EPSILON = 1e-9  # poll times within this fraction of a period count as reached


class ImapClient:
    """The IMAP side of one device: new mail to fetch, and the session (if one is open)."""

    __slots__ = ("announced", "device", "env", "net", "session")

    def __init__(self, device: Device) -> None:
        self.device = device
        self.env = device.ctx.env
        self.net = device.ctx.net
        self.announced: deque[Message] = deque()  # delivered, not fetched yet, in delivery order
        self.session: ImapSession | None = None

    def start(self) -> None:
        """Connect at the device's offset (from a step of its own at the current time)."""
        kernel.call_soon(self.env, self._begin)

    def _begin(self, _event: Any) -> None:
        offset_s = self.device.offset_s
        if offset_s > 0:
            kernel.timer(self.env, offset_s, self.connect)
        else:
            self.connect()

    def notify(self, message: Message) -> None:
        """The mailbox got new mail."""
        session = self.session
        if session is not None and session.state == IDLE:
            session.wake(message)
            return
        self.announced.append(message)
        if session is not None and session.round_open:
            session.left += 1  # fetched in the round under way

    def connect(self, _event: Any = None) -> None:
        path = self.device.reachable()
        if path is None:
            self._await_server()
            return
        self.session = ImapSession(self, path)

    def cut(self) -> None:
        """The session was cut: reconnect after ``poll``."""
        self.session = None
        device = self.device
        device.last_tick_s = device.cut_at_s = self.env.now
        kernel.timer(self.env, device.poll_s, self.connect)

    def _await_server(self) -> None:
        """Wait until a reconnect attempt can succeed: the server back, then the next retry time."""
        server = self.device.agent.server
        if not server.up:
            server.back_up().callbacks.append(self._server_back)
            return
        kernel.timer(self.env, CONNECT_TIMEOUT_S, self._connect_timed_out)

    def _server_back(self, _event: Any) -> None:
        env, device = self.env, self.device
        k = math.ceil((env.now - device.cut_at_s) / device.poll_s - TICK_EPSILON)
        kernel.timer(env, max(0.0, device.cut_at_s + k * device.poll_s - env.now), self.connect)

    def _connect_timed_out(self, _event: Any) -> None:
        self.device.failed("connect")
        kernel.timer(self.env, max(0.0, self.device.poll_s - CONNECT_TIMEOUT_S), self.connect)


CONNECTING, FETCHING, IDLE, WAKING, NOOP = range(5)


class ImapSession:
    """One connection of an IMAP client, from connect to cut."""

    __slots__ = ("client", "exists_lead_s", "fetches", "flow", "handle", "lead_s", "left", "message", "over", "path",
                 "requested_s", "round_open", "state", "tick_s", "trace", "wakes_at_once")

    def __init__(self, client: ImapClient, path: Path) -> None:
        device = client.device
        ctx = device.ctx
        self.client = client
        self.path = path
        self.over = False  # cut: whatever fires later is ignored
        self.state = CONNECTING
        self.left = 0  # messages of the current round still to fetch
        self.lead_s = 0.0
        self.message: Message | None = None  # being fetched
        self.flow: Flow | None = None
        self.requested_s = 0.0
        self.tick_s = 0.0
        self.round_open = False  # mail announced now joins the round under way
        self.fetches: Fetches = None
        # Fixed for the session: EXISTS reaching the device (d), DONE and the IDLE's OK (1 RTT) are
        # the first FETCH's lead-in; with IDLE over a path that takes time, the fetch starts at once.
        self.exists_lead_s = IMAP_EXISTS.end_d * path.delay_s
        self.wakes_at_once = device.idle and bool(path.rtt_s or path.limited_links)
        self.handle = ctx.sessions.open(self.cut, path)
        self.trace = trace = device._trace(ImapTrace)
        if trace is not None:
            trace.start_s, trace.delay_s, trace.idle = float(ctx.env.now), path.delay_s, device.idle
        # TCP, greeting, LOGIN, SELECT
        kernel.timer(ctx.env, IMAP_CONNECT.end_d * path.delay_s, self._selected)

    def _selected(self, _event: Any) -> None:
        if not self.over:
            self._round("select", self.client.env.now)

    def _round(self, trigger: str, at_s: float) -> None:
        """A round of fetches: every message new now, in order."""
        self._record_round(trigger, at_s)
        self.left = len(self.client.announced)
        self._fetch_next()

    def _record_round(self, trigger: str, at_s: float) -> None:
        """With a trace, a round starts now: the fetches from here on are its own."""
        if self.trace is not None:
            self.fetches = []
            self.trace.rounds.append(ImapRound(trigger, float(at_s), self.fetches))

    def _fetch_next(self) -> None:
        client = self.client
        if self.left:
            self.left -= 1
            lead_s, self.lead_s = self.lead_s, 0.0
            self.fetch(client.announced.popleft(), lead_s)
        elif client.announced:  # more arrived meanwhile: the server said so in the last response
            self._round("more", client.env.now)
        else:
            self.state = IDLE

    def fetch(self, message: Message, lead_s: float) -> None:
        """FETCH ``message`` after ``lead_s`` (the exchanges before it that carry nothing)."""
        self.state = FETCHING
        self.message = message
        client = self.client
        if self.fetches is not None:
            self.requested_s = client.env.now + lead_s
        flow = self.flow = start_fetch(client.net, self.path, message, lead_s)
        flow.then(self._fetched)

    def _fetched(self, _event: Any) -> None:
        if self.over:
            return
        message, flow = self.message, self.flow
        assert message is not None and flow is not None
        if self.fetches is not None:
            self.fetches.append(Fetch(message.id, message.wire_bytes, self.requested_s, flow.started_s, flow.ended_s))
        self.message = self.flow = None
        self.client.device._retrieved(message)
        self._fetch_next()

    def wake(self, message: Message) -> None:
        """New mail while idle. With IDLE the server's EXISTS is on its way: the fetch of this
        one message starts now (the round of it alone: nothing else is new while idle), EXISTS
        reaching the device (d) and DONE with the IDLE's OK (1 RTT) being its lead-in, unless the
        path is instant (the fetch would end within this step): then, as otherwise, the client
        learns of the mail in a step of its own, now."""
        if self.wakes_at_once:
            if self.trace is not None:
                self._record_round("exists", self.client.env.now)
                # The round takes in what else arrives before the client would have woken (in a
                # step of its own, now): a trace records which messages each round fetched.
                self.round_open = True
                kernel.timer(self.client.env, 0.0, self._round_closed)
            self.fetch(message, self.exists_lead_s)
            return
        self.client.announced.append(message)
        self.state = WAKING
        kernel.timer(self.client.env, 0.0, self._woken)

    def _round_closed(self, _event: Any) -> None:
        self.round_open = False

    def _woken(self, _event: Any) -> None:
        if self.over:
            return
        client = self.client
        env = client.env
        device = client.device
        if device.idle:
            # EXISTS reaches the device (d), DONE and the IDLE's OK (1 RTT): nothing moves, so
            # they are the first FETCH's lead-in rather than wake-ups.
            self.lead_s = self.exists_lead_s
            self._round("exists", env.now)
            return
        self.state = NOOP
        tick = self.tick_s = device.next_tick_s(env.now)
        if tick > env.now:
            kernel.timer(env, tick - env.now, self._tick)
        else:
            self._tick(None)

    def _tick(self, _event: Any) -> None:
        """The poll time has come: NOOP (1 RTT), then fetch what is new."""
        if self.over:
            return
        env = self.client.env
        self.client.device.last_tick_s = self.tick_s
        self.tick_s = env.now  # the round's time
        kernel.timer(env, IMAP_NOOP.end_d * self.path.delay_s, self._noop_done)

    def _noop_done(self, _event: Any) -> None:
        if not self.over:
            self._round("noop", self.tick_s)

    def cut(self) -> None:
        """An outage cut the session: the fetch in progress is abandoned, to be fetched again."""
        if self.over:
            return
        self.over = True
        client = self.client
        device = client.device
        ctx = device.ctx
        if self.flow is not None:
            ctx.net.cancel(self.flow)
        if self.message is not None:
            client.announced.appendleft(self.message)
        device.failed("cut")
        if self.trace is not None:
            self.trace.cut_s = float(ctx.env.now)
        ctx.sessions.close(self.handle)
        ctx.keep_trace(self.trace)
        client.cut()

