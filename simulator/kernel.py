"""The one place that touches SimPy's private API (tests/test_kernel.py pins what it relies on).

The simulation's hot paths read the clock and hand over events many times per message, and
SimPy's public API costs a property call or a scheduled event for each. What is used here:

- ``Environment._now``: the clock as a plain attribute (``env.now`` is a property over it).
- ``Event._ok``, ``Event._value`` and ``Event.callbacks = None``: an event that is never
  scheduled itself is made to read as processed (its waiters were handed to a timer that fired).
- ``Event._ok``/``_value`` set before ``Environment.schedule(event, URGENT)``: a callback run at
  the current time ahead of every ordinary event, exactly where SimPy resumes a process it starts
  (``Initialize``) or interrupts (``Interruption``). Callbacks that stand for such a process step
  must run there, or events due at the same instant would come in another order.
- ``Process._target``: the event a waiting process is hooked to, re-pointed when its waiters
  move to another event, so that an interrupt unhooks it from the right one.
- ``Environment._queue``: the schedule, a heap of ``(time, priority, event id, event)``, which
  :func:`run_events` pops and processes as ``Environment.step`` does, without a call per event,
  and into which :func:`timer` pushes a timeout as ``Environment.schedule`` does (taking the next
  event id from ``Environment._eid``), without the three calls of ``env.timeout``. This module's
  :class:`Environment` keeps the events due much later in a second heap of its own (and
  overrides ``step`` and ``peek`` to match), so that the first stays small.
- ``Timeout._delay``: set by :func:`timer` as ``Timeout.__init__`` sets it; ``_ok`` and ``_value``
  read from the class (:class:`Timer`), as ``Timeout.__init__`` would set them on each instance.
- What ``Environment.step`` (and :func:`run_events`) reads of a scheduled event: ``callbacks``,
  then ``_ok`` (and ``_value`` on failure). An :class:`Alarm` is no SimPy event, only that much of
  one, so a timer that nothing waits on costs no new object each time it is set; :func:`schedule`
  puts any such object in the schedule (a network transfer that is its own end's event).

pyproject.toml bounds SimPy's version; a release that changes any of these fails the test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from heapq import heapify, heappop, heappush
from operator import attrgetter
from typing import Any

import simpy
from simpy.core import StopSimulation
from simpy.events import NORMAL, URGENT, EventPriority, Timeout

Callback = Callable[[Any], None]


def now(env: simpy.Environment) -> float:
    """The simulated time, without the ``now`` property's call."""
    return env._now


def mark_done(event: simpy.Event) -> None:
    """Make ``event`` read as processed with value None, without scheduling it."""
    event._ok = True
    event._value = None
    event.callbacks = None  # type: ignore[assignment]


class Timer(Timeout):
    """A :class:`simpy.Timeout` made by :func:`timer`: it is triggered (ok, value None) from the
    start, as a timeout is, and says so from the class rather than from two fields per instance."""

    _ok = True
    _value = None


_new_timer = Timer.__new__


def timer(env: simpy.Environment, delay_s: float, callback: Callback) -> simpy.Event:
    """A timeout of ``delay_s`` whose first callback is ``callback``, scheduled exactly as
    ``env.timeout(delay_s).callbacks.append(callback)`` would (same heap entry, same event id)."""
    if delay_s < 0:
        raise ValueError(f"negative delay {delay_s}")
    event = _new_timer(Timer)
    event.env = env
    event.callbacks = [callback]
    event._delay = delay_s
    heappush(env._queue, (env._now + delay_s, NORMAL, next(env._eid), event))
    return event


def schedule(env: simpy.Environment, delay_s: float, event: Any) -> None:
    """Schedule ``event``, an object of the schedule's own (an event in all but name: it has
    ``callbacks``, a list, and reads ``_ok`` True), ``delay_s`` from now, exactly where
    ``timer(env, delay_s, callback)`` would schedule its timeout (same heap entry, same event id).
    The schedule then calls each of its ``callbacks`` with it. For an object that is itself what
    fires, such as a network transfer's end (``network.Flow``), so that it makes no timeout."""
    if delay_s < 0:
        raise ValueError(f"negative delay {delay_s}")
    heappush(env._queue, (env._now + delay_s, NORMAL, next(env._eid), event))


class Alarm:
    """A timer set again and again, one firing at a time, for a callback that nothing waits on.

    :meth:`set` schedules the alarm itself exactly where ``timer(env, delay_s, callback)`` would
    schedule its timeout (same heap entry, same event id), and the schedule processes it as it does
    an event: it calls ``callback(alarm)``. Unlike :func:`timer`, setting it makes no object (no
    timeout, no callbacks list, no bound method), which matters for a timer set once per message;
    but it cannot be yielded, cancelled or given more callbacks, and it must not be set again before it
    has fired (its callback may set it again). Subclasses add their own state in ``__slots__``.
    """

    __slots__ = ("_armed", "callbacks", "env")

    _ok = True  # as a triggered event reads (step checks it after the callbacks)
    _value = None

    def __init__(self, env: simpy.Environment, callback: Callable[[Any], None]) -> None:
        self.env = env
        self._armed = [callback]  # what callbacks becomes when set (the schedule sets it to None when it fires)
        self.callbacks: list[Callable[[Any], None]] | None = None

    def set(self, delay_s: float) -> None:
        """Fire ``delay_s`` from now."""
        if delay_s < 0 or self.callbacks is not None:
            raise ValueError(f"negative delay {delay_s}" if delay_s < 0 else "an alarm set again before it fired")
        env = self.env
        self.callbacks = self._armed
        heappush(env._queue, (env._now + delay_s, NORMAL, next(env._eid), self))  # type: ignore[misc]


def call_soon(env: simpy.Environment, callback: Callback) -> None:
    """Call ``callback(event)`` at the current time, before any ordinary event due now: where a
    process started now takes its first step, and where an interrupted one is resumed."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    event.callbacks.append(callback)
    env.schedule(event, URGENT)


def repoint(waiters: list[Any], old: simpy.Event, new: simpy.Event) -> None:
    """A process among ``waiters`` that waited on ``old`` now waits on ``new``."""
    for callback in waiters:
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, simpy.Process) and owner._target is old:
            owner._target = new


def clock(env: simpy.Environment) -> Callable[[], float]:
    """A function of no arguments that reads ``env``'s clock (C-level: cheaper than ``env.now``)."""
    return partial(attrgetter("_now"), env)


LATER_THAN_S = 3600.0  # events due this long after the first pending one wait in Environment's second heap


class Environment(simpy.Environment):
    """SimPy's environment with the events due later than :data:`LATER_THAN_S` after the first
    pending one kept apart, in a second heap, so that the heap every event goes through stays small.

    A heap's push and pop cost about one comparison per level, and most of what a run schedules
    is due within seconds (transfers, timers, arrivals), while events due days ahead (a process
    waiting for a daily poll) can outnumber them a hundred to one. Events are scheduled into
    ``_queue`` as in SimPy; :meth:`_settle` moves those due at or after ``_horizon_s`` into
    ``_later`` and brings back those due before it, so that every event in ``_later`` is due at or
    after ``_horizon_s``. An event of ``_queue`` due before ``_horizon_s`` therefore comes first of
    all, and events are processed in exactly SimPy's order: by (time, priority, event id).
    """

    def __init__(self, initial_time: float = 0.0) -> None:
        super().__init__(initial_time)
        self._later: list[Any] = []  # a heap of schedule entries, each due at or after _horizon_s
        self._horizon_s = -math.inf

    def _settle(self) -> float:
        """Split the schedule again at :data:`LATER_THAN_S` after its first event; returns the new
        horizon (every event of ``_queue`` is due before it, every one of ``_later`` at or after it)."""
        queue, later = self._queue, self._later
        first_s = min(queue[0][0] if queue else math.inf, later[0][0] if later else math.inf)
        horizon_s = first_s + LATER_THAN_S
        if any(entry[0] >= horizon_s for entry in queue):
            for entry in queue:
                if entry[0] >= horizon_s:
                    heappush(later, entry)
            queue[:] = [entry for entry in queue if entry[0] < horizon_s]  # (the same list: run_events holds it)
            heapify(queue)
        while later and later[0][0] < horizon_s:
            heappush(queue, heappop(later))
        self._horizon_s = horizon_s
        return horizon_s

    def peek(self) -> float:
        """The time of the next event (``math.inf`` if none)."""
        queue, later = self._queue, self._later
        return min(queue[0][0] if queue else math.inf, later[0][0] if later else math.inf)

    def step(self) -> None:
        """Process the next event, as SimPy's ``step`` does."""
        queue = self._queue
        if self._later and (not queue or queue[0][0] >= self._horizon_s):
            self._settle()
        super().step()


def run_events(env: simpy.Environment, count: int) -> tuple[int, bool]:
    """Process up to ``count`` events, each exactly as ``env.step()`` would; returns how many
    were processed and whether a callback stopped the simulation (``StopSimulation``, after the
    event that raised it, which counts). Fewer than ``count`` and not stopped: the schedule ran
    out. A failed event nobody defused raises, as in ``step``."""
    queue = env._queue
    later: list[Any] | None = getattr(env, "_later", None)  # an Environment's second heap
    # Events scheduled since the last call and due late leave the heap (an Environment's _settle).
    horizon_s = env._settle() if later is not None else math.inf  # type: ignore[attr-defined]
    for n in range(count):
        if not queue:
            if not later:
                return n, False
            horizon_s = env._settle()  # type: ignore[attr-defined]
        at_s, priority, eid, event = heappop(queue)
        if at_s >= horizon_s:  # an event of the second heap may be due first: split again
            heappush(queue, (at_s, priority, eid, event))
            horizon_s = env._settle()  # type: ignore[attr-defined]
            at_s, priority, eid, event = heappop(queue)
        env._now = at_s
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            # as step does: the remaining callbacks run when the simulation resumes
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            env.schedule(event, EventPriority(-1))
            return n + 1, True
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    return count, False
