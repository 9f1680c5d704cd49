"""mailsim: a discrete-event simulator of Internet e-mail.

Public API: :func:`load_scenario` reads and validates a scenario, :func:`run` simulates it and
returns a :class:`Result` (event log, derived tables, summary) that ``save`` writes to a folder.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .runner import Result, run
from .scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Result", "Scenario", "ScenarioError", "__version__", "load_scenario", "run"]
