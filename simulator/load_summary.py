"""The printed summary's lines about where capacity runs out: the most loaded link and server."""

from __future__ import annotations

from typing import Any

from .units import format_duration


def most_loaded_lines(loads: dict[str, Any] | None) -> list[str]:
    """The lines ``mailsim run`` prints from summary.json's ``loads`` (none without it)."""
    if not loads:
        return []
    bin_text = format_duration(loads["bin_s"])
    link, server = loads["most_loaded_link"], loads["most_loaded_server"]
    lines = []
    if link is not None:
        lines.append(f"  most loaded link: {link['link']} ({link['direction']}), {_percent(link['utilisation'])} "
                     f"of its bandwidth in the {bin_text} from {format_duration(link['at_s'])}")
    if server is not None:
        what = "queue" if server["by"] == "queue" else "open inbound sessions"
        lines.append(f"  most loaded server: {server['server']}, {what} {server['peak']} "
                     f"in the {bin_text} from {format_duration(server['at_s'])}")
    return lines


def _percent(share: float) -> str:
    """``0.93`` -> ``"93%"``, ``0.0013`` -> ``"0.13%"``: three significant digits at most."""
    return f"{100 * share:.3g}%"
