"""Fewer garbage collections while a large result is derived or written.

After a run the heap holds millions of live objects (the log's records and what points to
them). Deriving the tables makes hundreds of thousands of small containers, and each of them
counts toward the next collection of the young generation, whose survivors pile up into
collections of the older ones: measured on the 100k-message benchmark (a loaded machine),
deriving the deliveries table took 1.5 to 2.3 s with the collector at its default thresholds
and 1.0 to 1.1 s with the young generation collected every 50,000 allocations. What is
derived holds no reference cycles, so collecting the young generation rarely (as ``World.run``
does while simulating) frees the same memory and changes no result.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["fewer_collections", "with_fewer_collections"]

YOUNG_THRESHOLD = 50_000
"""Allocations between two collections of the young generation (Python's default is 700)."""

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect the young generation only every :data:`YOUNG_THRESHOLD` allocations inside the block;
    the thresholds in force before are restored after it."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def with_fewer_collections(function: Callable[P, T]) -> Callable[P, T]:
    """``function`` run inside :func:`fewer_collections`."""

    @functools.wraps(function)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
        with fewer_collections():
            return function(*args, **kwargs)

    return wrapped
