"""The executor of SMTP sessions: it runs a :class:`simulator.protocols.smtp.Plan` over the network.

A session is timers and at most one transfer, each ending in a callback; no process waits for
it. Its owner (a :class:`Client`: a user agent's submission, a delivery job) is told
``session_refused(rcpt, code)`` at the moment the client learns of each permanent refusal, and
``session_ended(exchange)`` once, when the server has accepted (or the client knows every
refusal), or when an outage cut the session; the exchange then says how it ended. (The owner
itself, not two bound methods of it: every hop makes an exchange.)
The client registers :meth:`cut` with the session registry for the path; a cut
abandons the transfer, and what would have come next is ignored. With a trace
(:class:`~simulator.protocols.trace.SmtpTrace`, from ``ctx.trace``), the session records there
what only it knows: when it opened, the server's replies, when its data moved, when the server
accepted, when it ended or was cut. The rest of its dialogue is the plan's layout.
``plan.refused`` is set when the server refused the session at its greeting. The server counts the
session open (``server.inbound``: what ``max_inbound`` limits, and ``servers.csv``'s
``sessions_max``) from its start (unless it refused it at the greeting) until it ends.
"""

from __future__ import annotations

from typing import Any, Protocol

import simpy

from . import kernel
from .message import Message
from .network import Flow, Network, Path
from .protocols import smtp
from .protocols.smtp import ACK_D, DATA_TAIL_D, OK
from .protocols.trace import SmtpTrace

NO_FOLLOWUPS: list[Any] = []  # an exchange's follow-ups until the server accepts: shared, so never changed


class Client(Protocol):
    """Who runs an exchange, and is told how it goes."""

    def session_refused(self, rcpt: str, code: str) -> None:
        """The client has just learned that the server refuses ``rcpt`` for good."""

    def session_ended(self, exchange: SmtpExchange) -> None:
        """The session is over: ``exchange`` says how it ended."""


class SmtpExchange:
    """One SMTP transaction between a client node and a receiving server, over a fixed path;
    when it ends, it is also how it ended, as the client knows it (``owner.session_ended(self)``)."""

    __slots__ = ("accepted", "ack_at_s", "client", "cut_off", "deferred", "eight_bit_client", "env", "flow",
                 "followups", "message", "net", "over", "owner", "path", "plan", "rcpts", "server",
                 "step", "submission", "timer", "trace")

    def __init__(
        self,
        env: simpy.Environment,
        net: Network,
        path: Path,
        server: smtp.Receiver,
        message: Message,
        rcpts: tuple[str, ...],
        client: str,
        owner: Client,
        submission: bool = False,
        eight_bit_client: bool = True,
    ) -> None:
        self.env = env
        self.net = net
        self.path = path
        self.server = server
        self.message = message
        self.rcpts = rcpts
        self.client = client
        self.owner = owner
        self.submission = submission  # a user agent submitting to its own server (relays anywhere)
        self.eight_bit_client = eight_bit_client
        self.flow: Flow | None = None
        self.timer: simpy.Event | None = None  # the wait in progress
        self.over = False  # ended or cut: whatever fires later is ignored
        self.trace: SmtpTrace | None = None
        # How it ended:
        self.accepted: tuple[str, ...] = ()  # the server took responsibility for these (it sent 250)
        self.deferred: list[tuple[str, str]] | tuple[()] = ()  # (recipient, 4xx code): try again later
        self.cut_off = False  # an outage cut the session before the server accepted
        self.ack_at_s = 0.0  # when the client sees the 250 (d after the server accepted)
        self.followups: list[Any] = NO_FOLLOWUPS  # the receiving server's new delivery jobs (only read)

    def start(self, trace: SmtpTrace | None = None) -> None:
        """Open the session now: the server's replies are fixed, the first wait or the transfer set."""
        server, path = self.server, self.path
        if trace is not None:
            self.trace = trace
            message = self.message
            eight_bit = self.eight_bit_client and server.eight_bit_mime
            trace.start_s = float(self.env.now)
            trace.delay_s = path.delay_s
            trace.pipelining = server.pipelining
            trace.size_bytes = message.hop_bytes(eight_bit)
            trace.body_8bit = message.eight_bit
            trace.eight_bit = eight_bit
            trace.limit_bytes = server.max_message_size_bytes
            trace.rcpts = self.rcpts
        plan = self.plan = smtp.plan(path, server, self.message, self.rcpts, self.client, self.submission,
                                     self.eight_bit_client)
        if not plan.refused:
            server.inbound.change(self.net.clock(), 1)  # open until it ends, whichever way
        if trace is not None and plan.refusal is not None:
            refusal = plan.refusal
            trace.refusal_stage = refusal.stage
            trace.refusal_reply = f"{refusal.code} {refusal.status} {refusal.text}"
        if plan.steps:
            self.step = 0
            self._wait(plan.steps[0][0])
            return
        # The one transfer: the data (after its lead-in), then "." reaches the server.
        flow = self.flow = self.net.transfer(path, plan.size_bytes, plan.lead_in_s, DATA_TAIL_D * path.delay_s)
        flow.then(self._accepted)

    def _wait(self, delay_s: float) -> None:
        self.timer = kernel.timer(self.env, delay_s, self._waited)

    def _waited(self, timer: simpy.Event) -> None:
        if timer is not self.timer:
            return  # the session was cut meanwhile
        plan = self.plan
        assert plan is not None
        for rcpt, code in plan.steps[self.step][1]:
            if code == OK:
                continue
            if code.startswith("4"):
                if not self.deferred:
                    self.deferred = []
                self.deferred.append((rcpt, code))
                continue
            self.owner.session_refused(rcpt, code)
        self.step += 1
        if self.step < len(plan.steps):
            self._wait(plan.steps[self.step][0])
        elif plan.accepted:
            self.timer = None
            flow = self.flow = self.net.transfer(self.path, plan.size_bytes, plan.lead_in_s,
                                                 DATA_TAIL_D * self.path.delay_s)
            flow.then(self._accepted)
        else:
            self._end(plan.steps[0][1] if plan.too_big else plan.replies)

    def _accepted(self, _event: Any) -> None:
        """The last byte and "." have reached the server: it accepts, and the 250 starts back."""
        if self.over:
            return
        plan, trace = self.plan, self.trace
        assert plan is not None
        now = self.net.clock()
        self.server.inbound.close(now)  # the session was open (it passed the greeting, since it got this far)
        self.followups = self.server.accept(self.message, plan.accepted, self.client)
        self.accepted = plan.accepted
        # the 250 reaches the client: it keeps the path cuttable until then
        self.ack_at_s = now + ACK_D * self.path.delay_s
        if trace is not None:
            flow = self.flow
            assert flow is not None
            trace.data_start_s, trace.data_end_s, trace.accepted_s = flow.started_s, flow.ended_s, float(now)
            trace.replies = list(plan.replies)
            trace.end_s = self.ack_at_s
        self.over = True
        self.owner.session_ended(self)

    def _end(self, replies: list[tuple[str, str]]) -> None:
        if not self.plan.refused:  # a session refused at the greeting never opened
            self.server.inbound.close(self.env.now)
        trace = self.trace
        if trace is not None:
            trace.replies = list(replies)
            trace.end_s = float(self.env.now)
        self.over = True
        self.owner.session_ended(self)

    def cut(self) -> None:
        """An outage cut the session before the server accepted: the transfer is abandoned."""
        if self.over:
            return
        self.timer = None
        if self.flow is not None:
            self.net.cancel(self.flow)
        self.cut_off = True
        if self.trace is not None:
            self.trace.cut_s = float(self.env.now)
        plan = self.plan
        assert plan is not None
        self._end(plan.replies)
