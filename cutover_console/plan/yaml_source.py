"""YAML that remembers where every value came from, so errors can name a line and column.

PyYAML's composer gives nodes with marks; we build plain Python values from them ourselves and keep
a map from field path to position. Timestamps stay strings: the plan's time zone decides what a
naive time means, and YAML's own timestamp rules would silently read it as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .problems import Path, PlanInvalid, PlanProblem

_SCALARS = yaml.SafeLoader  # the constructor we borrow for ints, floats, bools and nulls
_MAX_NODES = 500_000  # far above any real plan; stops alias bombs


@dataclass
class SourceMap:
    """Where each field path sits in the file (1-based line and column)."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of `path`, falling back to its nearest known ancestor."""
        probe = tuple(path)
        while True:
            table = self.keys if key else self.values
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]
            key = False

    def problem(
        self,
        path: Path,
        message: str,
        hint: str = "",
        *,
        key: bool = False,
        severity: str = "error",
    ) -> PlanProblem:
        line, col = self.locate(path, key=key)
        return PlanProblem(self.file, line, col, tuple(path), message, hint, severity)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[PlanProblem] = []
        self._constructor = _SCALARS("")
        self._open: set[int] = set()
        self._built = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.source.values[path] = _pos(node)
        self._built += 1
        if self._built > _MAX_NODES:
            raise PlanInvalid(
                [
                    self.source.problem(
                        path,
                        "the plan expands to too many values",
                        f"at most {_MAX_NODES}; check for alias loops",
                    )
                ]
            )
        if id(node) in self._open:
            raise PlanInvalid(
                [self.source.problem(path, "an alias refers to itself", "remove the loop")]
            )
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.problems.append(
                self.source.problem(path, f"cannot read this value: {exc.problem}")
            )
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                base = self.build(value_node, path)
                for part in base if isinstance(base, list) else [base]:
                    if isinstance(part, dict):
                        merged.update(part)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    self.source.problem(path, "a key must be plain text", "write `name: value`")
                )
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                first_line = self.source.keys[child][0]
                self.source.keys[(*child, "#dup")] = _pos(key_node)
                self.problems.append(
                    PlanProblem(
                        self.source.file,
                        *_pos(key_node),
                        child,
                        f"duplicate key '{key}'",
                        f"already set on line {first_line}; keep one",
                    )
                )
                continue
            self.source.keys[child] = _pos(key_node)
            result[key] = self.build(value_node, child)
        return {**merged, **result}


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> PlanProblem:
    """Point at what a person must fix: the opening quote or bracket of an unclosed one."""
    problem = exc.problem or "not valid YAML"
    context = exc.context or ""
    unclosed = context.startswith(("while scanning a quoted", "while parsing a flow"))
    mark = exc.context_mark if unclosed and exc.context_mark else exc.problem_mark
    mark = mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if "\\t" in problem or "\t" in problem:
        return PlanProblem(
            file,
            line,
            col,
            (),
            "YAML syntax error: a tab character",
            "YAML indents with spaces only; replace the tab",
        )
    if unclosed:
        what = "quote" if "quoted" in context else "bracket or brace"
        return PlanProblem(
            file,
            line,
            col,
            (),
            f"YAML syntax error: this {what} is never closed",
            f"close it; the parser ran on to line {exc.problem_mark.line + 1}"
            if exc.problem_mark
            else "close it",
        )
    detail = f"{problem}" + (f", {context}" if context else "")
    return PlanProblem(
        file,
        line,
        col,
        (),
        f"YAML syntax error: {detail}",
        "check the indentation, colons and quotes around here",
    )


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain values plus its source map.

    Raises PlanInvalid for syntax errors, duplicate keys and unreadable scalars.
    """
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise PlanInvalid([_syntax_problem(exc, file)]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise PlanInvalid(
            [
                PlanProblem(
                    file,
                    line,
                    col,
                    (),
                    f"character {exc.character!r} is not allowed in YAML",
                    "remove it or quote the text",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise PlanInvalid([PlanProblem(file, 1, 1, (), f"YAML error: {exc}", "")]) from None
    if node is None:
        raise PlanInvalid(
            [PlanProblem(file, 1, 1, (), "the plan is empty", "start with a `cutover:` section")]
        )
    builder = _Builder(source)
    value = builder.build(node, ())
    if builder.problems:
        raise PlanInvalid(builder.problems)
    return value, source
