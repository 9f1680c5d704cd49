"""Counts in words for people: ``counted(1, "bounce")`` is ``"1 bounce"``, ``counted(2, "bounce")``
``"2 bounces"``. Every user-facing count (terminal output, error messages, plot labels, the
report) goes through here, so none reads "1 bounces" or "point(s)"."""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun in the number it needs (``plural`` defaults to ``singular + "s"``)."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
