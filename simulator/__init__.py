"""mailsim: a discrete-event simulator of Internet e-mail.

Public API: :func:`load_scenario` reads and validates a scenario, :func:`run` simulates it and
returns a :class:`Result` (event log, derived tables, summary) that ``save`` writes to a folder.

The names are loaded when first used (``from simulator import run`` loads :mod:`simulator.runner`),
so that importing a light module of the package (the console script's :mod:`simulator.launch`)
loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .runner import Result, run
    from .scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Result", "Scenario", "ScenarioError", "__version__", "load_scenario", "run"]

_HOME = {"Result": "runner", "run": "runner", "Scenario": "scenario", "ScenarioError": "scenario",
         "load_scenario": "scenario"}
"""Each public name and the module that defines it."""


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value  # found here from now on, without this function
    return value
