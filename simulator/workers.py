"""A server's processing stage: ``workers`` that each process one accepted message at a time
for a ``processing`` time (content scanning, disk), before the message is put in mailboxes or
queued for delivery.

A message the server accepts waits for a free worker, first come first served; a worker
processes it for a time drawn from ``processing`` (the server's own random stream,
``processing.<server>``), then the server takes it (:meth:`simulator.server.MailServer.take`)
and the worker starts on the next message waiting. Without ``workers`` every message is
processed at once (as many workers as messages). While the server is down no processing starts;
a message being processed when it goes down finishes, and is taken when the server is up again.

Each processing is logged: ``processing`` when a worker starts on a message, ``processed`` when it
is done (at that moment the message is delivered or enqueued). The stage holds the run open.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernel
from .delivery import start_jobs
from .message import Message
from .randomness import Distribution, buffered

if TYPE_CHECKING:
    from .server import MailServer


class Workers:
    """The processing stage of one server: its free workers and the messages waiting for one."""

    __slots__ = ("free", "processing_s", "server", "waiting")

    def __init__(self, server: MailServer, workers: int | None, processing: Distribution,
                 rng: np.random.Generator) -> None:
        self.server = server
        self.free = workers  # None: unlimited
        # Processing times, drawn from the server's own stream in blocks (one per message, in order).
        self.processing_s = buffered(lambda n: processing.sample_many(rng, n))
        self.waiting: deque[tuple[Message, tuple[str, ...]]] = deque()

    def admit(self, message: Message, rcpts: tuple[str, ...]) -> None:
        """The server has just accepted ``message`` for ``rcpts``: process it when a worker is free."""
        self.server.ctx.end.hold()  # released when the message has been taken
        free = self.free
        if free is None:
            self._start(message, rcpts)
        elif free and not self.waiting:
            self.free = free - 1
            self._start(message, rcpts)
        else:
            self.waiting.append((message, rcpts))

    def _start(self, message: Message, rcpts: tuple[str, ...]) -> None:
        server = self.server
        if not server.up:  # the worker waits for the server to come back (holding its place)
            server.back_up().callbacks.append(partial(self._resume, message, rcpts))
            return
        ctx = server.ctx
        ctx.append_record((ctx.clock(), "processing", message.id, server.name, (rcpts,)))
        kernel.timer(ctx.env, self.processing_s(), partial(self._done, message, rcpts))

    def _resume(self, message: Message, rcpts: tuple[str, ...], _event: Any) -> None:
        self._start(message, rcpts)

    def _done(self, message: Message, rcpts: tuple[str, ...], _event: Any) -> None:
        server = self.server
        if not server.up:
            server.back_up().callbacks.append(partial(self._done, message, rcpts))
            return
        ctx = server.ctx
        ctx.append_record((ctx.clock(), "processed", message.id, server.name, (rcpts,)))
        jobs = server.take(message, rcpts, False)
        waiting = self.waiting
        if waiting:
            self._start(*waiting.popleft())
        elif self.free is not None:
            self.free += 1
        ctx.end.release()
        start_jobs(jobs)  # the first as part of this step, as after an SMTP session
