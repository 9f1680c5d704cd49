"""Dotted-key overrides (``servers.mx.beta.retry.interval``): applying one change to a
scenario's plain data, matching the longest existing key so names with dots work."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..wording import counted
from .errors import dotted_path


class OverrideError(Exception):
    """A dotted override key that does not lead anywhere."""


_NAME_KEYED: frozenset[tuple[str, ...]] = frozenset({("servers",), ("dns",)})


def _match_key(container: Mapping[Any, Any], rest: str) -> tuple[Any, str | None] | None:
    """The longest existing key that ``rest`` starts with (as a whole dotted segment)."""
    best: Any = None
    for key in container:
        text = str(key)
        if (rest == text or rest.startswith(text + ".")) and (best is None or len(text) > len(str(best))):
            best = key
    if best is None:
        return None
    tail = rest[len(str(best)) + 1 :]
    return best, tail or None


def assign(root: dict[str, Any], dotted: str, value: object) -> None:
    if not isinstance(dotted, str) or not dotted:
        raise OverrideError("an override key is a non-empty dotted path like servers.mx.retry.interval")
    container: Any = root
    path: tuple[str, ...] = ()
    rest = dotted
    while True:
        if isinstance(container, dict):
            found = _match_key(container, rest)
            if found is not None:
                key, tail = found
            elif path in _NAME_KEYED:
                if not isinstance(value, Mapping | list):
                    raise OverrideError(
                        f"{dotted_path(path)} has no entry matching '{rest}'; "
                        "a new entry needs a whole mapping or list as its value"
                    )
                key, tail = rest, None
            else:
                key, _, after = rest.partition(".")
                tail = after or None
            if tail is None:
                container[key] = value
                return
            if container.get(key) is None:
                container[key] = {}
            container = container[key]
        elif isinstance(container, list):
            segment, _, after = rest.partition(".")
            if not segment.isdigit():
                raise OverrideError(f"{dotted_path(path)} is a list: '{segment}' should be an item number")
            index = int(segment)
            if index >= len(container):
                raise OverrideError(
                    f"{dotted_path(path)} has {counted(len(container), 'item')}; there is no item {index}"
                )
            if not after:
                container[index] = value
                return
            key, tail = index, after
            container = container[index]
        else:
            raise OverrideError(f"{dotted_path(path)} is a single value, not a mapping or list")
        path = (*path, str(key))
        rest = tail
