"""When a run is done: the work still outstanding, with explicit hold and release, and the
processing stages that count their own.

The run is over when every traffic source is spent and nothing is held: no submission in
flight, no job in a queue, no message waiting to be retrieved, no bounce or think time pending,
no message in a server's processing stage. Whoever starts such work calls ``hold()`` and calls
``release()`` when it is over. A processing stage (:mod:`simulator.workers`) instead counts the
messages in it (its ``messages``) and is registered with :meth:`EndOfRun.add_stage`: it takes a
message and lets it go once or twice for every message of a run, and a count of its own spares
it a call each time; when it empties with nothing held it calls :meth:`EndOfRun.check`, as
``release()`` would have. A final reply still in flight (a session tail an outage could yet cut)
is waited for before the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import simpy

from . import kernel


class Stage(Protocol):
    """Work that counts itself: ``messages`` in it, each holding the run open."""

    messages: int


class EndOfRun:
    """Counts outstanding work and traffic sources; ``done`` fires when both reach zero."""

    __slots__ = ("_tails_until", "_waiting_for_tails", "done", "env", "held", "sources", "stages")

    def __init__(self, env: simpy.Environment, tails_until: Callable[[], float]) -> None:
        self.env = env
        self.held = 0  # work held: queued, in flight, waiting to be retrieved
        self.stages: list[Stage] = []  # work counted by the stages themselves
        self.sources = 0  # traffic sources still able to create messages
        self.done = env.event()
        self._tails_until = tails_until  # when the last session tail still open expires
        self._waiting_for_tails = False

    @property
    def count(self) -> int:
        """All the work outstanding: held, and in the stages."""
        return self.held + sum(stage.messages for stage in self.stages)

    def hold(self, n: int = 1) -> None:
        """``n`` more pieces of work are outstanding."""
        self.held += n

    def release(self) -> None:
        """One piece of work is over."""
        self.held -= 1
        if not self.held:
            self.check()

    def add_stage(self, stage: Stage) -> None:
        """``stage`` counts its own work from now on: the run is not over while it has any."""
        self.stages.append(stage)

    def source_started(self) -> None:
        self.sources += 1

    def source_ended(self) -> None:
        self.sources -= 1
        self.check()

    def check(self) -> None:
        """End the run when nothing is left to do; a final reply still in flight is waited for."""
        if self.count or self.sources or self.done.triggered or self._waiting_for_tails:
            return
        until = self._tails_until()
        if until > self.env.now:
            self._waiting_for_tails = True
            kernel.timer(self.env, until - self.env.now, self._tails_expired)
            return
        self.done.succeed()

    def _tails_expired(self, _event: simpy.Event) -> None:
        self._waiting_for_tails = False
        self.check()
