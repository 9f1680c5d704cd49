"""Short, bounded renderings of input values for error messages.

An error message quotes what the user wrote, but a value can be enormous: a YAML alias bomb
expands to hundreds of millions of items that share memory, and ``repr`` of it would take
minutes. :func:`brief` renders any value in time and space bounded by ``limit``, whatever its
size or nesting (recursive structures included), so no error message waits on its input.
"""

from __future__ import annotations

import reprlib

__all__ = ["brief"]

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxtuple = _REPR.maxlist = _REPR.maxarray = _REPR.maxdict = 6
_REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = 6
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlong = 40


def brief(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to at most ``limit`` characters (ending in ``...`` when cut).

    Containers show their first few items and strings their ends, so the work done is bounded
    however large ``value`` is.
    """
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."
