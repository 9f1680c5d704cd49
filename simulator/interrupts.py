"""Ctrl-C that cannot be lost: a SIGINT handler that remembers the interrupt as well as raising it.

Python raises KeyboardInterrupt wherever the main thread happens to be; when that is inside a
weakref callback or a ``__del__`` (matplotlib and the garbage collector run many), the exception
is printed as "Exception ignored" and dropped, and the program carries on as if never
interrupted. :func:`noticing_interrupts` installs a handler that also records the interrupt, and
:func:`raise_if_interrupted` raises it again at a point that must not be passed after one, such
as the swap of a new result folder into place. Outside the block (a notebook, a library
caller) nothing is recorded and :func:`raise_if_interrupted` does nothing. Nothing here prints.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["noticing_interrupts", "raise_if_interrupted"]

_interrupted = False


def _handler(signum: int, frame: FrameType | None) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


@contextmanager
def noticing_interrupts() -> Iterator[None]:
    """Within the block, Ctrl-C raises KeyboardInterrupt and is remembered until the block ends.
    Only the main thread can install signal handlers; elsewhere the block changes nothing."""
    global _interrupted
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    _interrupted = False
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _interrupted = False


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt when Ctrl-C came within :func:`noticing_interrupts`, even if the
    first KeyboardInterrupt was swallowed where Python cannot propagate it."""
    if _interrupted:
        raise KeyboardInterrupt
