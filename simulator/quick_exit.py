"""Ending the ``mailsim run`` process without freeing what the run made, one object at a time.

When ``mailsim run`` has written its last file and printed its summary, what is left of the run
(a result's log, tables and figures: millions of small objects at a million messages) would be
freed object by object as the command returns, and the interpreter would then tear down its
modules: half a second at 100,000 messages, seconds at a million, for nothing the user sees. The
console script (:func:`simulator.cli.entrypoint`) arms this module; the command hands what it
made to :func:`hold`, and :func:`end` flushes the standard streams and ends the process with
``os._exit``, leaving the memory to the operating system. Every file is closed by then (each is
written in a ``with`` block). Only a process that held something ends this way; ``main`` called
from Python (a test, a notebook) holds nothing and frees as usual.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

_held: list[Any] | None = None
"""What :func:`hold` was given, while armed (None: not armed)."""


def arm() -> None:
    """Let :func:`hold` keep what it is given, for :func:`end`."""
    global _held
    _held = []


def hold(made: Any) -> None:
    """Keep ``made`` until the process ends, if :func:`arm` was called (else nothing: it is freed as usual)."""
    if _held is not None:
        _held.append(made)


def end(status: int) -> NoReturn:
    """End the process with exit ``status``: at once (streams flushed, nothing freed) if something
    is held, else as ``sys.exit`` does."""
    if _held:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
