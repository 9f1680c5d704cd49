"""A YAML loader that refuses alias bombs before building anything.

YAML anchors and aliases let a few lines stand for an enormous value ("billion laughs": nine
aliases to a list of nine aliases to ... expand to 9**9 items). PyYAML builds such a value
cheaply, as shared objects, but anything that walks it (validation, error messages, copies)
takes minutes and memory without end. :class:`BoundedLoader` is PyYAML's SafeLoader plus one
check on the composed node graph, before any Python object is constructed: the nodes that
aliases add (each alias counts the whole subtree it repeats) must not exceed
:data:`MAX_ALIAS_NODES`, and an alias may not contain itself. The check visits each distinct
node once, so it takes time proportional to the file, not to its expansion.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

__all__ = ["MAX_ALIAS_NODES", "AliasExpansionError", "BoundedLoader"]

MAX_ALIAS_NODES = 1_000_000
"""The most YAML nodes (keys, values, list items) aliases may add to a document."""

_CAP = MAX_ALIAS_NODES * 1000  # subtree sizes are counted up to here (keeps the integers small)

Path = tuple[str, ...]


@dataclass
class AliasExpansionError(Exception):
    """A document whose aliases expand too far (or into themselves), found at ``path``/``line``."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return self.message


# libyaml's parser (C) where PyYAML was built with it, which its wheels are: the same documents,
# nodes and marks as the pure-Python one, a tenth of the time on a scenario of a thousand lines.
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class BoundedLoader(_SafeLoader):
    """SafeLoader that raises :class:`AliasExpansionError` for a document aliases blow up."""

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            check_alias_expansion(node)
        return node


def _children(node: yaml.Node) -> list[tuple[str | None, yaml.Node, int]]:
    """(path segment, child, line) for each child node; a mapping's keys have no segment."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        found: list[tuple[str | None, yaml.Node, int]] = []
        for key, value in node.value:
            key_line = key.start_mark.line + 1
            found.append((None, key, key_line))
            found.append((str(key.value) if isinstance(key, yaml.ScalarNode) else "?", value, key_line))
        return found
    if isinstance(node, yaml.SequenceNode):
        return [(str(index), item, line) for index, item in enumerate(node.value)]
    return []


def _expanded_sizes(root: yaml.Node) -> dict[int, int]:
    """Nodes in each subtree with every alias expanded (capped), by ``id``; refuses cycles."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for _, child, _ in _children(node))
            sizes[key] = min(total, _CAP)
            continue
        if key in sizes:
            continue
        if key in on_path:
            line = node.start_mark.line + 1
            raise AliasExpansionError((), line, "a YAML alias refers to a value that contains it (a recursive "
                                      "structure); a scenario is a tree")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for _, child, _ in _children(node) if id(child) not in sizes)
    return sizes


def check_alias_expansion(root: yaml.Node, limit: int = MAX_ALIAS_NODES) -> None:
    """Raise :class:`AliasExpansionError` if the aliases in ``root`` add more than ``limit`` nodes.

    The error names the key path and line of the alias at which the count passed the limit.
    """
    sizes = _expanded_sizes(root)
    seen: set[int] = set()
    added = 0
    stack: list[tuple[yaml.Node, Path, int]] = [(root, (), root.start_mark.line + 1)]
    while stack:
        node, path, line = stack.pop()
        if id(node) in seen:  # reached again: an alias, which repeats the whole subtree
            added += sizes[id(node)]
            if added > limit:
                raise AliasExpansionError(
                    path, line,
                    f"YAML aliases expand this document by more than {limit:,} values (here an alias adds "
                    f"{sizes[id(node)]:,}{' or more' if sizes[id(node)] >= _CAP else ''}); refusing it, as an "
                    "alias bomb ('billion laughs') would take minutes and all memory",
                )
            continue
        seen.add(id(node))
        for segment, child, child_line in reversed(_children(node)):
            stack.append((child, path if segment is None else (*path, segment), child_line))
