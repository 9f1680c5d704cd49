"""A server's outgoing session slots: at most ``concurrency`` delivery sessions open at once, and
with ``destination_concurrency`` at most that many to one destination."""

from __future__ import annotations

from collections import deque

import simpy


class Slots:
    """A counting semaphore for outgoing sessions that costs no event when a slot is free.

    ``take()`` claims a slot at once if one is free; otherwise ``wait()`` gives an event that
    fires when a slot has been handed over (first come, first served). ``give()`` frees one.
    """

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.waiting: deque[simpy.Event] = deque()

    def take(self) -> bool:
        if self.busy < self.capacity and not self.waiting:
            self.busy += 1
            return True
        return False

    def wait(self) -> simpy.Event:
        event = self.env.event()
        self.waiting.append(event)
        return event

    def give(self) -> None:
        if self.waiting:
            self.waiting.popleft().succeed()  # the slot passes straight to the next in line
        else:
            self.busy -= 1


class DestinationSlots:
    """Slots per destination (the first MX host of a job's recipients), each made when first used."""

    __slots__ = ("capacity", "env", "of_host")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.of_host: dict[str, Slots] = {}

    def of(self, host: str) -> Slots:
        """The slots of the destination ``host``."""
        slots = self.of_host.get(host)
        if slots is None:
            slots = self.of_host[host] = Slots(self.env, self.capacity)
        return slots
