"""A user's devices and how they retrieve mail: POP3 polling, IMAP sessions (IDLE or NOOP
polling) and webmail refreshes, with the timings of :mod:`simulator.protocols.retrieval`.

A polling device polls at ``offset + k*poll``. A poll that would find nothing new changes
nothing, so it is not simulated: a device sleeps until its mailbox gets new mail, then wakes at
its next poll time. That keeps the cost per message constant however often devices poll.
An IMAP device holds a session (connected at ``offset``, or at 0) that an outage of the server
or its path cuts; it reconnects at the next multiple of ``poll`` after the cut at which the
server answers. A device that cannot connect tries again at its next poll. Nothing is lost,
and a device never counts a message twice. In a run without outages an IMAP IDLE device needs
no process: its session can never be cut, so timer callbacks do what ``_imap`` would.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from . import fast
from .mailbox import Mailbox
from .message import Message
from .network import Path
from .protocols import retrieval

if TYPE_CHECKING:
    from .agents import UserAgent

CONNECT_TIMEOUT_S = 30.0
TICK_EPSILON = 1e-9


class Device:
    """One device of a user: what it holds, and the process that fetches for it."""

    def __init__(self, agent: UserAgent, index: int, rng: np.random.Generator) -> None:
        access = agent.spec.access
        self.agent = agent
        self.ctx = agent.ctx
        self.index = index
        self.protocol: str = access.protocol
        self.poll_s: float = access.poll_s
        self.keep: bool = bool(access.keep)
        self.idle: bool = self.protocol == "imap" and bool(access.idle)
        polls = not self.idle
        offset_s = access.device_offset_s(index)
        if offset_s is not None:
            self.offset_s = offset_s
        else:
            self.offset_s = float(rng.uniform(0.0, self.poll_s)) if polls else 0.0
        self.mailbox: Mailbox = agent.server.mailboxes[agent.address]
        # What a polling device holds (an IMAP IDLE device without a process keeps no such set:
        # it fetches each message it is told of exactly once).
        self.held: set[str] = set()
        self.cursor = 0  # every message before this position is held or deleted
        self._wake: simpy.Event | None = None
        self.last_tick_s = -math.inf
        self.cut_at_s = 0.0  # when the IMAP session was last cut
        self._state = ""  # IMAP IDLE without a process: connecting, idle, waking or fetching
        self._path: Path | None = None
        self._announced: deque[Message] = deque()  # new mail it has not fetched yet, in that mode
        # Who this device is, as the log's detail fields say it.
        self.tag = f"rcpt={agent.address} device={index} protocol={self.protocol}"
        self._retrieved_details = (self.tag + " seen=0", self.tag + " seen=1")

    # ---- what is new ---------------------------------------------------------------------------

    def notify(self, message: Message) -> None:
        """The mailbox got new mail."""
        state = self._state
        if state:  # IMAP IDLE without a process: it fetches in announcement order
            self._announced.append(message)
            if state == "idle":  # it wakes (see _idle_fetch)
                path = self._path
                assert path is not None
                if path.rtt_s == 0 and not path.limited_links:
                    # An instant fetch: do it in a step of its own, where the process would have woken.
                    self._state = "waking"
                    self.ctx.env.timeout(0.0).callbacks.append(lambda _event: self._idle_fetch(0.0))
                else:
                    self._idle_fetch(path.delay_s + path.rtt_s)  # EXISTS reaches the device, DONE and OK
        elif self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def new_messages(self) -> list[Message]:
        """Messages in the mailbox this device does not hold (and POP3 has not deleted)."""
        messages = self.mailbox.messages
        end, i = len(messages), self.cursor
        if i >= end:
            return []
        held, deleted = self.held, self.mailbox.deleted
        while i < end and (messages[i].id in held or messages[i].id in deleted):
            i += 1
        self.cursor = i
        return [m for m in messages[i:] if m.id not in held and m.id not in deleted]

    def got(self, message: Message) -> None:
        """A download or fetch brought ``message``; it counts once however often it comes."""
        if message.id in self.held:
            return
        self.held.add(message.id)
        self._retrieved(message)

    def _retrieved(self, message: Message) -> None:
        """The device now holds ``message`` for the first time (the IMAP IDLE fast path calls this
        directly: each new message is announced to it, and fetched, exactly once)."""
        mid = message.id
        seen = self.mailbox.seen
        detail = self._retrieved_details[mid in seen]
        if self.protocol != "pop3":
            seen.add(mid)
        agent = self.agent
        ctx = self.ctx
        ctx.append_record((ctx.env._now, "retrieved", mid, agent.node, detail))
        agent.retrieved(self, message)

    # ---- time ----------------------------------------------------------------------------------

    def next_tick_s(self, after_s: float) -> float:
        """The first poll time at or after ``after_s`` and after the last poll."""
        k = max(0, math.ceil((after_s - self.offset_s) / self.poll_s - TICK_EPSILON))
        tick = self.offset_s + k * self.poll_s
        if tick <= self.last_tick_s:
            tick = self.last_tick_s + self.poll_s
        return tick

    def wait_for_mail(self) -> Generator[Any, Any, None]:
        while not self.new_messages():
            self._wake = self.ctx.env.event()
            yield self._wake
            self._wake = None

    def wait_for_tick(self) -> Generator[Any, Any, None]:
        env = self.ctx.env
        tick = self.next_tick_s(env.now)
        if tick > env.now:
            yield env.timeout(tick - env.now)
        self.last_tick_s = tick

    def next_poll(self) -> Generator[Any, Any, Path | None]:
        """Sleep until there is new mail and the next poll time comes; the path to the server,
        or None after a connect that failed (the device tries again at its next poll)."""
        yield from self.wait_for_mail()
        yield from self.wait_for_tick()
        path = self.reachable()
        if path is None:
            yield self.ctx.env.timeout(CONNECT_TIMEOUT_S)
            self.failed("connect")
        return path

    def reachable(self) -> Path | None:
        server = self.agent.server
        return self.ctx.net.path(self.agent.node, server.name) if server.up else None

    def failed(self, why: str) -> None:
        ctx = self.ctx
        ctx.record("retrieve_failed", "", self.agent.node, f"{self.tag} why={why}")

    # ---- processes -----------------------------------------------------------------------------

    def start(self) -> None:
        ctx = self.ctx
        ctx.record("device", "", self.agent.node,
                       f"{self.tag} copies={self.agent.copies_wanted} offset={self.offset_s!r}")
        if self.idle and ctx.fast:
            self._idle_start()
            return
        run = {"pop3": self._pop3, "http": self._http, "imap": self._imap}[self.protocol]
        ctx.env.process(run())

    # ---- IMAP IDLE without a process (see simulator.fast) -------------------------------------
    # With no outage to cut it, an IDLE session is a pure function of deliveries: connected at
    # offset + 4 RTT, then each new message fetched in order, the first after a quiet spell with
    # EXISTS and DONE as its lead-in. These callbacks do exactly what ``_imap`` does.

    def _idle_start(self) -> None:
        path = self.reachable()
        assert path is not None  # no outages: every user reaches its server
        self._path = path
        self._state = "connecting"
        timer = self.ctx.env.timeout(self.offset_s + 4 * path.rtt_s)  # TCP, greeting, LOGIN, SELECT
        timer.callbacks.append(self._idle_connected)

    def _idle_connected(self, _event: Any) -> None:
        self._state = "idle"
        self._idle_fetch(0.0)

    def _idle_fetch(self, lead_s: float) -> None:
        """Fetch the next new message, if any; the device is busy until none is left."""
        if not self._announced:
            self._state = "idle"
            return
        self._state = "fetching"
        message = self._announced.popleft()
        path = self._path
        assert path is not None
        # (lead-in, tail) passed by position: the hot path of every fetch
        flow = self.ctx.net.transfer(path, message.wire_bytes, lead_s + path.delay_s, path.delay_s)

        def held(_event: Any) -> None:
            self._retrieved(message)
            self._idle_fetch(0.0)

        fast.when_done(flow, held)

    def _pop3(self) -> Generator[Any, Any, None]:
        """Poll, download what is new, delete it unless ``keep``. Time: the POP3 row of the contract."""
        ctx, env, box = self.ctx, self.ctx.env, self.mailbox
        process = env.active_process
        while True:
            path = yield from self.next_poll()
            if path is None:
                continue
            token = object()
            owed: list[Message] = []

            def select(token: object = token, owed: list[Message] = owed) -> tuple[Sequence[Message], int] | None:
                if box.lock is not None:
                    return None
                box.lock = token
                present = box.present(self.cursor)
                owed.extend(m for m in present if m.id in self.held)  # held after a cut, not yet deleted
                wanted = [m for m in present if m.id not in self.held]
                owed.extend(wanted)
                return wanted, 0 if self.keep else len(owed)

            handle = ctx.sessions.open(process, path)
            trace = self._trace("pop3")
            try:
                ok = yield from retrieval.pop3_session(env, ctx.net, path, select, self.keep, self.got, trace)
                if not ok:
                    self.failed("locked")
                elif not self.keep:
                    box.deleted.update(m.id for m in owed)  # UPDATE state: QUIT has reached the server
            except simpy.Interrupt:
                self.failed("cut")
                self._trace_cut(trace)
            finally:
                ctx.sessions.close(handle)
                if box.lock is token:
                    box.lock = None
                self._trace_done(trace)

    def _http(self) -> Generator[Any, Any, None]:
        """Refresh the inbox at each poll and open each new message. Time: the HTTP row."""
        ctx, env = self.ctx, self.ctx.env
        process = env.active_process
        while True:
            path = yield from self.next_poll()
            if path is None:
                continue
            handle = ctx.sessions.open(process, path)
            trace = self._trace("http")
            try:
                yield from retrieval.http_poll(env, ctx.net, path, self.new_messages, self.got, trace)
            except simpy.Interrupt:
                self.failed("cut")
                self._trace_cut(trace)
            finally:
                ctx.sessions.close(handle)
                self._trace_done(trace)

    def _imap(self) -> Generator[Any, Any, None]:
        """Hold an IMAP session: IDLE (or NOOP at each poll), FETCH what is new. Time: the IMAP rows.

        Interrupted by outages of the server or path; reconnects at the next multiple of
        ``poll`` after the cut at which the server can be reached.
        """
        ctx, env = self.ctx, self.ctx.env
        process = env.active_process
        if self.offset_s > 0:
            yield env.timeout(self.offset_s)
        while True:
            path = self.reachable()
            if path is None:
                yield from self._await_server()
                continue
            handle = ctx.sessions.open(process, path)
            trace = self._trace("imap")
            rounds: list[dict[str, Any]] = []
            if trace is not None:
                trace.update(t0=env.now, delay_s=path.delay_s, idle=self.idle, rounds=rounds)
            fetches: retrieval.Fetches = None
            try:
                yield retrieval.round_trips(env, path, 4)  # TCP, greeting, LOGIN, SELECT
                trigger, at = "select", env.now
                lead_s = 0.0
                while True:
                    if trace is not None:
                        fetches = []
                        rounds.append({"trigger": trigger, "at": at, "fetches": fetches})
                    for message in self.new_messages():
                        yield from retrieval.fetch(env, ctx.net, path, message, self.got, fetches, lead_s)
                        lead_s = 0.0
                    if self.new_messages():
                        trigger, at = "more", env.now
                        continue  # more arrived meanwhile: the server said so in the last response
                    yield from self.wait_for_mail()
                    if self.idle:
                        at = env.now  # the server sends EXISTS
                        trigger = "exists"
                        # EXISTS reaches the device (d), DONE and the IDLE's OK (1 RTT): nothing
                        # moves, so they are the first FETCH's lead-in rather than wake-ups.
                        lead_s = path.delay_s + path.rtt_s
                    else:
                        yield from self.wait_for_tick()
                        trigger, at = "noop", env.now
                        yield retrieval.round_trips(env, path, 1)  # NOOP
            except simpy.Interrupt:
                self.failed("cut")
                self._trace_cut(trace)
            finally:
                ctx.sessions.close(handle)
                if trace is not None:
                    self.ctx.keep_trace(trace, [f[0] for r in rounds for f in r["fetches"]])
            self.last_tick_s = env.now
            self.cut_at_s = env.now
            yield env.timeout(self.poll_s)

    def _trace(self, protocol: str) -> dict[str, Any] | None:
        return self.ctx.trace(protocol, self.agent.node, self.agent.server.name, "",
                              user=self.agent.address, device=self.index)

    def _trace_cut(self, trace: dict[str, Any] | None) -> None:
        if trace is not None:
            trace["cut_at"] = self.ctx.env.now

    def _trace_done(self, trace: dict[str, Any] | None) -> None:
        if trace is not None:
            self.ctx.keep_trace(trace, [f[0] for f in trace.get("fetches") or ()])

    def _await_server(self) -> Generator[Any, Any, None]:
        """Wait until a reconnect attempt can succeed: the server back, then the next retry time."""
        env, server = self.ctx.env, self.agent.server
        if not server.up:
            yield server.back_up()
            k = math.ceil((env.now - self.cut_at_s) / self.poll_s - TICK_EPSILON)
            yield env.timeout(max(0.0, self.cut_at_s + k * self.poll_s - env.now))
            return
        yield env.timeout(CONNECT_TIMEOUT_S)
        self.failed("connect")
        yield env.timeout(max(0.0, self.poll_s - CONNECT_TIMEOUT_S))
