"""When a run is done: the one counter of work still outstanding, with explicit hold and release.

The run is over when every traffic source is spent and nothing is held: no submission in
flight, no job in a queue, no message waiting to be retrieved, no bounce or think time pending.
Whoever starts such work calls ``hold()`` and calls ``release()`` when it is over. A final
reply still in flight (a session tail an outage could yet cut) is waited for before the end.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from . import kernel


class EndOfRun:
    """Counts outstanding work and traffic sources; ``done`` fires when both reach zero."""

    __slots__ = ("_tails_until", "_waiting_for_tails", "count", "done", "env", "sources")

    def __init__(self, env: simpy.Environment, tails_until: Callable[[], float]) -> None:
        self.env = env
        self.count = 0  # work held: queued, in flight, waiting to be retrieved
        self.sources = 0  # traffic sources still able to create messages
        self.done = env.event()
        self._tails_until = tails_until  # when the last session tail still open expires
        self._waiting_for_tails = False

    def hold(self, n: int = 1) -> None:
        """``n`` more pieces of work are outstanding."""
        self.count += n

    def release(self) -> None:
        """One piece of work is over."""
        self.count -= 1
        if not self.count and not self.sources:  # (check's first test: a source still running keeps the run open)
            self.check()

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
