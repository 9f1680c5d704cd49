"""A user's devices and how they retrieve mail: POP3 polling, IMAP sessions (IDLE or NOOP
polling) and webmail refreshes, with the timings of :mod:`simulator.protocols.retrieval`.

A polling device polls at ``offset + k*poll``. A poll that would find nothing new changes
nothing, so it is not simulated: a device sleeps until its mailbox gets new mail, then wakes at
its next poll time. That keeps the cost per message constant however often devices poll.
An IMAP device holds a session (connected at ``offset``, or at 0) that an outage of the server
or its path cuts: :mod:`simulator.imap` runs it with timers and callbacks. A device that cannot
connect tries again at its next poll. Nothing is lost, and a device never counts a message twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import simpy

from .imap import CONNECT_TIMEOUT_S, TICK_EPSILON, ImapClient
from .mailbox import Mailbox
from .message import Message
from .network import Path
from .protocols import retrieval
from .protocols.trace import HttpTrace, Pop3Trace, SessionTrace

if TYPE_CHECKING:
    from .agents import UserAgent

R = TypeVar("R", bound=SessionTrace)


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
        self.deletes = self.protocol == "pop3" and not self.keep  # else it leaves mail on the server
        self.idle: bool = self.protocol == "imap" and bool(access.idle)
        polls = not self.idle
        offset_s = access.device_offset_s(index)
        if offset_s is not None:
            self.offset_s = offset_s
        else:
            self.offset_s = float(rng.uniform(0.0, self.poll_s)) if polls else 0.0
        self.mailbox: Mailbox = agent.server.mailboxes[agent.address]
        # The mailbox's \Seen flags, read and set when the user has several devices (see
        # ``share_seen``); a user's only device gets each message once, never seen before.
        self.seen: set[str] | None = None
        # What a POP3 or webmail device holds from its cursor on (an IMAP device keeps no such set:
        # it fetches each message it is told of exactly once).
        self.held: set[str] = set()
        self.cursor = 0  # every message before this position is held or deleted
        self._wake: simpy.Event | None = None
        self.last_tick_s = -math.inf
        self.cut_at_s = 0.0  # when the IMAP session was last cut
        self.imap = ImapClient(self) if self.protocol == "imap" else None
        # Who this device is, as the log's first three fields of its records say it.
        self.tag = (agent.address, index, self.protocol)
        self._retrieved_values = ((*self.tag, 0), (*self.tag, 1))

    # ---- what is new ---------------------------------------------------------------------------

    def notify(self, message: Message) -> None:
        """The mailbox got new mail (an IMAP device's client is told by the agent directly)."""
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def new_messages(self) -> list[Message]:
        """Messages in the mailbox this device does not hold (and POP3 has not deleted)."""
        box = self.mailbox
        messages, base = box.messages, box.base
        end, i = len(messages), max(0, self.cursor - base)
        if i >= end:
            return []
        held, deleted = self.held, box.deleted
        start = i
        while i < end and (messages[i].id in held or messages[i].id in deleted):
            i += 1
        self.cursor = base + i
        new = [m for m in messages[i:] if m.id not in held and m.id not in deleted]
        if i > start and not self.deletes:
            self._passed(messages[start:i])
        return new

    def _passed(self, messages: list[Message]) -> None:
        """The cursor has moved past ``messages``, all held: a device that leaves mail on the server
        never lists them again, so it forgets them, and the mailbox forgets what every device has
        passed. (A device that deletes keeps what it holds until its QUIT deletes it.)"""
        held = self.held
        for message in messages:
            held.discard(message.id)
        self.agent.passed()

    def got(self, message: Message) -> None:
        """A download or fetch brought ``message``; it counts once however often it comes."""
        if message.id in self.held:
            return
        self.held.add(message.id)
        self._retrieved(message)

    def _retrieved(self, message: Message) -> None:
        """The device now holds ``message`` for the first time (an IMAP session calls this
        directly: each new message is announced to it, and fetched, exactly once)."""
        mid = message.id
        seen = self.seen
        if seen is None:
            values = self._retrieved_values[0]
        else:
            values = self._retrieved_values[mid in seen]
            if self.protocol != "pop3":
                seen.add(mid)
        agent = self.agent
        ctx = self.ctx
        ctx.append_record((ctx.clock(), "retrieved", mid, agent.node, values))
        agent.retrieved(self, message)

    def share_seen(self) -> None:
        """The user has other devices: the first to get a message sees it unseen, the others seen
        (unless it came by POP3, which sets no flag)."""
        self.seen = self.mailbox.seen

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
        ctx.record("retrieve_failed", "", self.agent.node, (*self.tag, why))

    # ---- processes -----------------------------------------------------------------------------

    def start(self) -> None:
        ctx = self.ctx
        ctx.record("device", "", self.agent.node, (*self.tag, self.agent.copies_wanted, self.offset_s))
        if self.imap is not None:
            self.imap.start()
            return
        if self.protocol == "pop3":
            ctx.env.process(self._poll_loop(Pop3Trace, self._pop3))
        else:
            ctx.env.process(self._poll_loop(HttpTrace, self._http))

    def _poll_loop(self, kind: type[R], session: Callable[[Path, R | None], Generator[Any, Any, None]]
                   ) -> Generator[Any, Any, None]:
        """Poll on the device's grid; each poll that reaches the server runs ``session`` over its
        path, which an outage may cut (the retrieval fails, the next poll tries again)."""
        ctx, env = self.ctx, self.ctx.env
        process = env.active_process
        assert process is not None
        while True:
            path = yield from self.next_poll()
            if path is None:
                continue
            handle = ctx.sessions.open(process, path)
            trace = self._trace(kind)
            try:
                yield from session(path, trace)
            except simpy.Interrupt:
                self.failed("cut")
                self._trace_cut(trace)
            finally:
                ctx.sessions.close(handle)
                self._trace_done(trace)

    def _pop3(self, path: Path, trace: Pop3Trace | None) -> Generator[Any, Any, None]:
        """Download what is new, delete it unless ``keep``. Time: the POP3 row of the contract."""
        box = self.mailbox
        token = object()
        owed: list[Message] = []

        def select() -> tuple[Sequence[Message], int] | None:
            if box.lock is not None:
                return None
            box.lock = token
            held = self.held
            wanted = [m for m in box.present(self.cursor) if m.id not in held]
            if self.keep:
                return wanted, 0
            # What it downloaded in a session cut before QUIT (held, still in the maildrop, wherever
            # its cursor is) is deleted now too, with what is new.
            owed.extend(m for m in box.present() if m.id in held)
            owed.extend(wanted)
            return wanted, len(owed)

        try:
            ok = yield from retrieval.pop3_session(self.ctx.env, self.ctx.net, path, select, self.keep, self.got, trace)
            if not ok:
                self.failed("locked")
            elif not self.keep:
                # UPDATE state: QUIT has reached the server. What left the mailbox for good is not
                # kept here either (it cannot come back: a duplicate is a delivery of its own).
                held = self.held
                held.difference_update(box.delete(owed))
                self.agent.deleted(m.id for m in owed)
                if not held:
                    self.held = set()  # an emptied set keeps its table: a new one holds nothing
        finally:
            if box.lock is token:
                box.lock = None
            owed.clear()  # (a finished session keeps no message alive, however it is held)

    def _http(self, path: Path, trace: HttpTrace | None) -> Generator[Any, Any, None]:
        """Refresh the inbox and open each new message. Time: the HTTP row."""
        yield from retrieval.http_poll(self.ctx.env, self.ctx.net, path, self.new_messages, self.got, trace)

    def _trace(self, kind: type[R]) -> R | None:
        """A new trace of this device's session (None when not recording)."""
        agent = self.agent
        return self.ctx.trace_retrieval(kind, self.protocol, agent.node, agent.server.name, agent.address, self.index)

    def _trace_cut(self, trace: SessionTrace | None) -> None:
        if trace is not None:
            trace.cut_s = float(self.ctx.env.now)

    def _trace_done(self, trace: SessionTrace | None) -> None:
        self.ctx.keep_trace(trace)
