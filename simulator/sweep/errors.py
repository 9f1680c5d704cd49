"""The errors a sweep raises: one that cannot be planned or resumed, and a run that failed."""

from __future__ import annotations


class SweepDefinitionError(ValueError):
    """A sweep that cannot be planned or resumed (bad grid, mismatching result folder)."""


class SweepError(RuntimeError):
    """A run of the sweep failed; the runs already finished stay recorded."""
