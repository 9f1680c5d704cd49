"""What is wrong with a scenario: :class:`Problem` (one mistake, with its key path and line) and
:class:`ScenarioError` (all of them).

Defined outside the scenario package (which reports through them, and names them in
:mod:`simulator.scenario.errors`) so that the command line can catch a :class:`ScenarioError`
without loading the scenario model (pydantic, numpy) for a command that reads no scenario
(``mailsim --help``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a scenario: where (dotted key path, file line) and what."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return text if self.line is None else f"{text} (line {self.line})"


class ScenarioError(Exception):
    """A scenario that cannot be used; ``problems`` lists every mistake found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)
