"""Ctrl-C that cannot be lost: a SIGINT handler that remembers the interrupt as well as raising it.

Python raises KeyboardInterrupt wherever the main thread happens to be; when that is inside a
weakref callback or a ``__del__`` (matplotlib and the garbage collector run many), the exception
is printed as "Exception ignored" and dropped, and the program carries on as if never
interrupted. :func:`noticing_interrupts` installs a handler that also records the interrupt, and
:func:`raise_if_interrupted` raises it again at a point that must not be passed after one, such
as the swap of a new result folder into place. Outside the block (a notebook, a library
caller) nothing is recorded and :func:`raise_if_interrupted` does nothing.

Within :func:`first_interrupt_stops` (inside :func:`noticing_interrupts`, around a simulation),
the first Ctrl-C raises nothing: it only asks the work to stop, which the yielded function
tells whoever polls it (the event loop, between batches of events), so the work can end at a
consistent point and what it has done be kept. A second Ctrl-C raises KeyboardInterrupt as
:func:`noticing_interrupts` does. Nothing here prints.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["first_interrupt_stops", "noticing_interrupts", "raise_if_interrupted"]

_interrupted = False
_stop_asked = False


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


def _stop_handler(signum: int, frame: FrameType | None) -> None:
    global _stop_asked
    if _stop_asked:
        _handler(signum, frame)  # the second Ctrl-C
    _stop_asked = True


def _stop_asked_now() -> bool:
    return _stop_asked


def _never() -> bool:
    return False


@contextmanager
def first_interrupt_stops() -> Iterator[Callable[[], bool]]:
    """Within the block, the first Ctrl-C only makes the yielded function return True; a second
    raises KeyboardInterrupt (remembered, as within :func:`noticing_interrupts`). Outside the
    main thread, the yielded function always returns False and Ctrl-C is left as it was."""
    global _stop_asked
    if threading.current_thread() is not threading.main_thread():
        yield _never
        return
    previous = signal.signal(signal.SIGINT, _stop_handler)
    _stop_asked = False
    try:
        yield _stop_asked_now
    finally:
        signal.signal(signal.SIGINT, previous)
        _stop_asked = False
