"""pydantic's validation errors worded for people: one message per mistake, "did you
mean" hints for unknown keys, a mistake inherited from ``defaults`` pointed there, and
the line of each key path; sorted as :class:`Problem` objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from ..brief import brief
from ..wording import counted
from .base import Spec
from .campaigns import CampaignSpec
from .errors import Loc, Problem, dotted_path, unknown_key_message
from .model import Scenario
from .network import LinkSpec, Network
from .outages import OutageSpec
from .profiles import DailySpec, StepSpec
from .servers import GreylistSpec, MXRecord, RetrySpec, ServerSpec, merge_server
from .traffic import AttachmentSpec, FileSpec, ForwardSpec, ReplySpec, ScriptedMessage, TrafficSpec
from .users import AccessSpec, GroupMembers, GroupSpec, UserSpec


def validation_issues(error: ValidationError, prefix: Loc, raw: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    issues: list[tuple[Loc, str]] = []
    for detail in error.errors(include_url=False):
        loc: Loc = (*prefix, *detail["loc"])
        if _is_injected_name(loc):
            continue  # the name comes from the server's key: the key's own error covers it
        key_error = bool(loc) and loc[-1] == "[key]"
        if key_error:
            loc = loc[:-1]
        message = _message(detail, loc, raw)
        issues.append((loc, f"invalid name: {message}" if key_error else message))
    return issues


def _is_injected_name(loc: Loc) -> bool:
    return (len(loc) == 3 and loc[0] == "servers" and loc[2] == "name") or loc == ("defaults", "name")


def _message(detail: Mapping[str, Any], loc: Loc, raw: Mapping[str, Any]) -> str:
    kind = detail["type"]
    value = detail.get("input")
    context = detail.get("ctx") or {}
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return unknown_key_message(loc[-1], _keys_at(loc[:-1], raw))
    if kind == "scenario":
        return str(detail["msg"])
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type", "mapping_type"):
        return f"must be a mapping, got {brief(value)}"
    if kind in ("tuple_type", "list_type", "iterable_type", "set_type"):
        return f"must be a list, got {brief(value)}"
    if kind == "too_short":
        return f"needs at least {counted(int(context.get('min_length', 0)), 'item')}"
    if kind == "too_long":
        return f"takes at most {counted(int(context.get('max_length', 0)), 'item')}"
    if kind == "literal_error":
        return f"must be one of {context.get('expected')}, got {brief(value)}"
    message = str(detail["msg"])
    if message.startswith("Input should be "):
        message = "must be " + message[len("Input should be ") :]
    return f"{message}, got {brief(value)}"


def _keys_at(parent: Loc, raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys allowed at ``parent`` (for "did you mean" hints)."""
    model = _model_at(parent, raw)
    return () if model is None else model.yaml_keys()


def _model_at(parent: Loc, raw: Mapping[str, Any]) -> type[Spec] | None:
    if not parent:
        return Scenario
    head, rest = parent[0], parent[1:]
    if head == "network":
        network_parts: dict[int, type[Spec]] = {0: Network, 2: LinkSpec}
        return network_parts.get(len(rest))
    if head in ("defaults", "servers"):
        server_rest = rest if head == "defaults" else rest[1:]
        if head == "servers" and not rest:
            return None
        server_parts: dict[Loc, type[Spec]] = {(): ServerSpec, ("retry",): RetrySpec, ("greylisting",): GreylistSpec}
        return server_parts.get(server_rest)
    if head == "dns":
        return MXRecord if len(rest) == 2 else None
    if head == "users" and rest:
        entries = raw.get("users")
        entry = entries[rest[0]] if isinstance(entries, list) and isinstance(rest[0], int) else None
        is_group = isinstance(entry, Mapping) and "group" in entry
        user_parts: dict[Loc, type[Spec]] = {
            (): GroupSpec if is_group else UserSpec,
            ("access",): AccessSpec,
            ("group",): GroupMembers,
        }
        return user_parts.get(rest[1:])
    if head == "traffic" and rest:
        traffic_parts: dict[Loc, type[Spec]] = {
            (): TrafficSpec,
            ("attachments",): AttachmentSpec,
            ("reply",): ReplySpec,
            ("forward",): ForwardSpec,
            ("file",): FileSpec,
            ("daily",): DailySpec,
        }
        if len(rest) == 3 and rest[1] == "steps":
            return StepSpec
        return traffic_parts.get(rest[1:])
    if head == "messages" and len(rest) == 1:
        return ScriptedMessage
    if head == "campaigns" and len(rest) == 1:
        return CampaignSpec
    if head == "outages" and len(rest) == 1:
        return OutageSpec
    return None


def _from_defaults(loc: Loc, raw: Mapping[str, Any]) -> Loc:
    """Point a problem in a server at ``defaults`` when the offending key came from there."""
    defaults = raw.get("defaults")
    servers = raw.get("servers")
    if len(loc) < 3 or loc[0] != "servers" or not isinstance(defaults, Mapping) or not isinstance(servers, Mapping):
        return loc
    spec = servers.get(loc[1])
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        return loc
    _, origins = merge_server(defaults, spec)
    rest = tuple(str(segment) for segment in loc[2:])
    for length in range(len(rest), 0, -1):
        if rest[:length] in origins:
            return ("defaults", *loc[2:])
    return loc


def _line(loc: Loc, lines: Mapping[tuple[str, ...], int]) -> int | None:
    key = tuple(str(segment) for segment in loc)
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return None


def to_problems(
    issues: Iterable[tuple[Loc, str]], raw: Mapping[str, Any], lines: Mapping[tuple[str, ...], int] | None
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for loc, message in issues:
        loc = _from_defaults(loc, raw)
        path = dotted_path(loc)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(Problem(path, message, None if lines is None else _line(loc, lines)))
    order = {id(problem): n for n, problem in enumerate(problems)}
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, order[id(p)]))
