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

from .delivery import start_jobs
from .kernel import Alarm
from .message import Message
from .randomness import Distribution, buffered

if TYPE_CHECKING:
    from .server import MailServer


# A message, the recipients it was accepted for, and those as the fields of its two records (one
# tuple for both: the log keeps them).
Job = tuple[Message, tuple[str, ...], tuple[tuple[str, ...]]]


class Worker(Alarm):
    """One worker of a stage: the job it is processing (None while idle).

    A worker is its processing's timer (an :class:`~simulator.kernel.Alarm` whose callback is
    the stage's ``_done``, called with the worker), so a processing makes no timer and no callable.
    """

    __slots__ = ("job",)

    def __init__(self, stage: Workers) -> None:
        super().__init__(stage.env, stage._done)
        self.job: Job | None = None  # None while idle


class Workers:
    """The processing stage of one server: its idle workers and the messages waiting for one.

    A message waits only while no worker is idle (a worker that finishes takes the next one
    waiting at once). Without a limit, a worker is added whenever none is idle. The hot path (a
    worker idle, the server up) runs once or twice per message, so the stage keeps what it
    reads there as its own attributes (the server's log, clock, environment and end of run) instead of
    reaching through the server and its context each time. Those that are functions are read into
    locals and called from there: ``self.clock()`` would look ``clock`` up as a method each time
    (a slot is not one), about a hundred instructions more per call.
    """

    __slots__ = ("append_record", "clock", "end", "env", "idle", "limited", "name", "processing_s", "server",
                 "waiting")

    def __init__(self, server: MailServer, workers: int | None, processing: Distribution,
                 rng: np.random.Generator) -> None:
        ctx = server.ctx
        self.server = server
        self.name = server.name
        self.env = ctx.env
        self.clock = ctx.clock
        self.append_record = ctx.append_record
        self.end = ctx.end
        self.limited = workers is not None
        self.idle = [Worker(self) for _ in range(workers or 0)]
        # Processing times, drawn from the server's own stream in blocks (one per message, in order).
        self.processing_s = buffered(lambda n: processing.sample_many(rng, n))
        self.waiting: deque[Job] = deque()

    def admit(self, message: Message, rcpts: tuple[str, ...]) -> None:
        """The server has just accepted ``message`` for ``rcpts``: process it when a worker is free."""
        self.end.hold()  # released when the message has been taken
        idle = self.idle
        if idle:
            worker = idle.pop()
        elif self.limited:
            self.waiting.append((message, rcpts, (rcpts,)))
            return
        else:
            worker = Worker(self)
        worker.job = (message, rcpts, (rcpts,))
        self._start(worker)

    def _start(self, worker: Worker, _event: Any = None) -> None:
        """``worker`` starts on its job (once the server is up: until then it waits, busy)."""
        server = self.server
        if not server.up:
            server.back_up().callbacks.append(partial(self._start, worker))
            return
        job = worker.job
        assert job is not None
        message, _, fields = job
        append_record, clock, processing_s = self.append_record, self.clock, self.processing_s  # (see the class)
        append_record((clock(), "processing", message.id, self.name, fields))
        worker.set(processing_s())

    def _done(self, worker: Worker, _event: Any = None) -> None:
        """``worker`` has processed its job: the server takes it (once up), and the worker goes on
        to the next message waiting, if any."""
        server = self.server
        if not server.up:
            server.back_up().callbacks.append(partial(self._done, worker))
            return
        job = worker.job
        assert job is not None
        message, rcpts, fields = job
        append_record, clock = self.append_record, self.clock  # (see the class)
        append_record((clock(), "processed", message.id, self.name, fields))
        jobs = server.take(message, rcpts, False)
        waiting = self.waiting
        if waiting:
            worker.job = waiting.popleft()
            self._start(worker)
        else:
            worker.job = None  # (not to keep the message alive)
            self.idle.append(worker)
        self.end.release()
        if jobs:  # (none when the message went to mailboxes here)
            start_jobs(jobs)  # the first as part of this step, as after an SMTP session
