"""The limits a scenario must stay within, so that a typo cannot ask for more than a machine has.

A scenario is a few lines of YAML, but a slip (``count: 1000000000000``, ``rate: 1e12/s``,
``duration: 1e300``) asks for more memory or time than any computer has. These limits are
checked while the file is validated, from its numbers alone (nothing is built or expanded
first), and a scenario that exceeds one is refused with the key path and the estimate:

- every duration in a scenario is at most :data:`MAX_DURATION_S` (ten years): beyond that a
  simulated time, a float of seconds, no longer has microsecond precision;
- every size is at most :data:`MAX_SIZE_BYTES` (1 TB);
- at most :data:`MAX_USERS` users and :data:`MAX_DEVICES` devices (each user costs about 6 KB
  of memory and a quarter of a millisecond to build);
- the expected mail, counted in (message, recipient) pairs, is at most ``max_messages``
  (default :data:`DEFAULT_MAX_MESSAGES`; about 5 KB of memory each, see benchmarks/README.md);
  ``mailsim run/validate --max-messages N`` and ``load_scenario(..., max_messages=N)`` raise it.
  The same number bounds the expected changes of random outages;
- one undeliverable message is tried at most :data:`MAX_ATTEMPTS` times before give-up.

:mod:`simulator.workload` makes the estimates; this module holds the numbers and the capped
unit parsers the scenario's fields use.
"""

from __future__ import annotations

import sys

from .brief import brief
from .units import parse_duration, parse_size

__all__ = [
    "DEFAULT_MAX_MESSAGES",
    "MAX_ATTEMPTS",
    "MAX_DEVICES",
    "MAX_DURATION_S",
    "MAX_SIZE_BYTES",
    "MAX_USERS",
    "NO_MAIL_LIMIT",
    "check_max_messages",
    "scenario_duration",
    "scenario_size",
]

DEFAULT_MAX_MESSAGES = 2_000_000
"""Expected mail (message, recipient) pairs a scenario may ask for unless the user raises it."""

NO_MAIL_LIMIT = sys.maxsize
"""``max_messages`` for reading a scenario that is not about to run (a result folder's, one to draw)."""

MAX_USERS = 1_000_000
"""Users (group members included) a scenario may have."""

MAX_DEVICES = 2_000_000
"""Devices (users times their ``access.devices``) a scenario may have."""

MAX_ATTEMPTS = 1_000_000
"""Tries of one undeliverable message before its server gives up (``give_up`` over the retry wait)."""

MAX_DURATION_S = 3650 * 86400.0
"""The longest duration a scenario may name (3650d, about ten years), in seconds."""

MAX_SIZE_BYTES = 10**12
"""The largest size a scenario may name (1 TB), in bytes."""


def scenario_duration(value: object) -> float:
    """:func:`~simulator.units.parse_duration`, refusing durations longer than :data:`MAX_DURATION_S`."""
    seconds = parse_duration(value)
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{brief(value)} is too long: a duration in a scenario is at most 3650d "
                         f"({MAX_DURATION_S:.0f} s), so that simulated times keep microsecond precision")
    return seconds


def scenario_size(value: object) -> int:
    """:func:`~simulator.units.parse_size`, refusing sizes above :data:`MAX_SIZE_BYTES`."""
    size_bytes = parse_size(value)
    if size_bytes > MAX_SIZE_BYTES:
        raise ValueError(f"{brief(value)} is too large: a size in a scenario is at most 1TB ({MAX_SIZE_BYTES} bytes)")
    return size_bytes


def check_max_messages(value: object) -> int:
    """A ``max_messages`` argument: a whole number >= 1 (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_messages must be a whole number >= 1, got {brief(value)}")
    return value
