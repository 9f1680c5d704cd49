"""Whether this installation runs its event loop compiled (see setup.py), found without importing it.

``pip install .`` builds a wheel whose event-loop modules are C extensions made by mypyc; an
editable install, a build with ``MAILSIM_PURE_PYTHON=1`` and a build whose C compiler failed run
the same modules as Python, about 1.7 times slower to simulate. ``mailsim --version`` says which,
and so does the benchmark.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util

PROBE = "simulator.kernel"
"""A module setup.py compiles: it is an extension exactly when the build compiled."""


def compiled(module: str = PROBE) -> bool:
    """Whether ``module`` (by default :data:`PROBE`: whether the event loop is compiled) would be
    loaded from a C extension."""
    spec = importlib.util.find_spec(module)
    origin = spec.origin if spec is not None else None
    return origin is not None and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def describe() -> str:
    """``"event loop compiled by mypyc"`` or ``"pure Python"``."""
    return "event loop compiled by mypyc" if compiled() else "pure Python"
