"""Reading YAML text safely (bounded alias expansion), remembering the line of every key
and list item, and finding duplicate keys."""

from __future__ import annotations

import yaml

from ..safe_yaml import AliasExpansionError, BoundedLoader
from .errors import Problem, ScenarioError, dotted_path


def parse_yaml(text: str) -> tuple[object, dict[tuple[str, ...], int], list[Problem]]:
    """Parse YAML safely; also return the line of every key and list item, and duplicate keys."""
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines: dict[tuple[str, ...], int] = {}
        problems: list[Problem] = []
        _walk(node, (), lines, problems, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = error.problem or error.context or "invalid YAML"
        raise ScenarioError(
            [Problem("", f"YAML syntax error: {what}", None if mark is None else mark.line + 1)]
        ) from None
    except yaml.YAMLError as error:
        raise ScenarioError([Problem("", f"YAML error: {error}")]) from None
    except AliasExpansionError as error:
        raise ScenarioError([Problem(dotted_path(error.path), error.message, error.line)]) from None
    except RecursionError:
        raise ScenarioError([Problem("", "the YAML is nested too deeply")]) from None
    finally:
        loader.dispose()
    return data, lines, problems


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _walk(
    node: yaml.Node,
    path: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    problems: list[Problem],
    seen: set[int],
) -> None:
    if id(node) in seen:  # an alias: its lines are those of its anchor
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for mapping in merged:
                    if isinstance(mapping, yaml.MappingNode):
                        for inner_key, _ in mapping.value:
                            if isinstance(inner_key, yaml.ScalarNode):
                                lines.setdefault((*path, inner_key.value), inner_key.start_mark.line + 1)
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(dotted_path(path), "keys must be plain names", line))
                continue
            key = key_node.value
            if key in first_line:
                problems.append(
                    Problem(
                        dotted_path((*path, key)),
                        f"duplicate key '{key}' (first at line {first_line[key]})",
                        line,
                    )
                )
            else:
                first_line[key] = line
            lines.setdefault((*path, key), line)
            _walk(value_node, (*path, key), lines, problems, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*path, str(index)), item.start_mark.line + 1)
            _walk(item, (*path, str(index)), lines, problems, seen)
