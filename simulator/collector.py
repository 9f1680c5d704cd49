"""The cyclic garbage collector paused while a run is simulated, derived or written.

A run, and deriving and writing its result, make millions of objects that reference counting
frees and almost no reference cycles: a few per process, none per message or per row
(tests/test_memory_shape.py checks the run). The cyclic collector would only walk the growing
heap again and again: collecting the young generation every 700 allocations, as Python does by
default, made deriving the 100k-message benchmark's deliveries table take 1.5 to 2.3 s instead
of 1.0 s. Inside :func:`paused` it does not run; it resumes after the block as it was before.
No result depends on it.

What the block made and kept is moved to the collector's oldest generation as it resumes (with
``gc.freeze`` and ``gc.unfreeze``: two list splices). Left in the youngest, all of it (about ten
tuples of the event log's fields a message) would be walked by the first collection after the
block, on the next allocation: 9 ms of a 0.28 s run of 10,000 messages with IMAP IDLE retrieval,
moving through memory that is no longer in cache. A reference cycle the block made is freed
by the next full collection instead of the next young one.

The figures are the other way round: each is a web of reference cycles that only the collector
frees, so :func:`freeing_new_cycles` collects after each is drawn, walking only what the drawing
made.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["freeing_new_cycles", "paused", "while_paused"]

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector is as it was before after it."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()  # everything tracked, the block's objects among them, leaves the young generations,
            gc.unfreeze()  # and goes to the oldest
            gc.enable()


def while_paused(function: Callable[P, T]) -> Callable[P, T]:
    """``function`` run inside :func:`paused`."""

    @functools.wraps(function)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
        with paused():
            return function(*args, **kwargs)

    return wrapped


@contextmanager
def freeing_new_cycles() -> Iterator[Callable[[], object]]:
    """A block that frees the reference cycles it made whenever it calls what it is given, at the
    cost of walking only what it made since it started.

    For the figures, drawn one after another: a figure is a web of reference cycles (its artists
    and it), freed by the cyclic collector alone, and after a run the collector seldom walks the
    oldest generation they age into, so the nine figures of ``mailsim run`` stayed in memory, about
    17 MB at 100,000 messages. A full collection after each would walk the whole result (0.12 s a
    time at 100,000 messages); here what exists when the block starts is set aside first
    (``gc.freeze``) and put back after it (``gc.unfreeze``), so each collection walks the block's
    own objects: a few milliseconds. What outlives a collection is set aside in turn, so the next one
    does not walk it again (matplotlib's modules, loaded as the first figure is drawn, took 40 ms
    a walk at each figure). If objects are already set aside (a program that froze its own), the
    block leaves them be and its collections do nothing.
    """
    if gc.get_freeze_count():
        yield lambda: None
        return
    gc.freeze()
    try:
        yield _collect_and_set_aside
    finally:
        gc.unfreeze()


def _collect_and_set_aside() -> None:
    """Free the cycles made since the last call, then set aside what survived them, so the next
    call walks only what is made after this one."""
    gc.collect()
    gc.freeze()
