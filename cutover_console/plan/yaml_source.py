"""YAML that remembers where every value came from, so errors can name a line and column.

We read PyYAML's event stream (from libyaml when it is installed: ~50 times faster than the
pure-Python scanner) and compose light nodes ourselves, in a loop rather than by recursion, so that
hostile input is refused before anything recursive sees it: nesting deeper than MAX_DEPTH, more
than MAX_NODES values (aliases counted each time they are used, which stops alias bombs), and any
tag outside the core schema (`!!python/...` is refused, never silently dropped). Plain Python
values are then built from the nodes, with a map from field path to position.

Timestamps stay strings: the plan's time zone decides what a naive time means, and YAML's own
timestamp rules would silently read it as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .problems import Path, PlanInvalid, PlanProblem, clip

MAX_DEPTH = 64  # lists and mappings inside each other; a real plan nests about 6
MAX_NODES = 500_000  # values in a plan, aliases expanded; a 10,000-step plan has ~100,000
_MAX_NUMBER_CHARS = 100  # int() of longer digit runs is refused by Python or quadratic (base 60)

_LIBYAML: bool = yaml.__with_libyaml__
_Loader: Any = yaml.CSafeLoader if _LIBYAML else yaml.SafeLoader

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_CORE + t for t in ("str", "int", "float", "bool", "null"))
_SEQ_TAG, _MAP_TAG, _MERGE = _CORE + "seq", _CORE + "map", _CORE + "merge"
_EXPLICIT_SCALAR = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})
# Implicitly resolved, kept as written: a timestamp needs the plan's zone; a lone `=` is text.
_AS_TEXT = frozenset({_STR, _CORE + "timestamp", _CORE + "value", _MERGE})
_TAG_HINT = (
    "plans are plain YAML: remove it; allowed: !!str !!int !!float !!bool !!null !!seq !!map"
)
_BOOLS: dict[str, bool] = yaml.SafeLoader.bool_values

_SCALAR, _SEQ, _MAP = 0, 1, 2


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


@dataclass(slots=True, eq=False)
class _Node:
    kind: int
    line: int
    col: int
    text: str = ""  # a scalar as written (mapping keys are read from it)
    value: Any = None  # a scalar's value
    tag: str = ""  # a scalar's resolved tag (`<<` is a merge only when plain)
    items: list[_Node] | None = None  # a sequence's items; a mapping's keys and values, alternating


def _show_tag(tag: str) -> str:
    return clip("!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag)


def too_deep(file: str, line: int, col: int, path: Path, how: str = "") -> PlanProblem:
    return PlanProblem(
        file,
        line,
        col,
        path,
        f"nested more than {MAX_DEPTH} levels deep{how}",
        f"a plan nests at most {MAX_DEPTH} lists and mappings inside each other",
    )


class _Composer:
    """Events → nodes, with an explicit stack: depth, size and tags are checked as nodes open."""

    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.problems: list[PlanProblem] = []
        self.anchors: dict[str, _Node] = {}
        self.open_anchors: set[str] = set()
        self.stack: list[tuple[_Node, Path, str | None]] = []
        self.count = 0
        self.resolved: dict[tuple[str, Any], str] = {}

    def where(self) -> Path:
        """The field path of the next node (a key is reported on its mapping)."""
        if not self.stack:
            return ()
        node, path, _ = self.stack[-1]
        items = node.items or []
        if node.kind == _SEQ:
            return (*path, len(items))
        if len(items) % 2 == 0:
            return path
        key = items[-1]
        return (*path, clip(key.text) if key.kind == _SCALAR else "?")

    def _problem(self, line: int, col: int, path: Path, message: str, hint: str) -> None:
        self.problems.append(PlanProblem(self.file, line, col, path, message, hint))

    def compose(self) -> _Node | None:
        get = self.loader.get_event
        get()  # stream start
        if self.loader.check_event(yaml.StreamEndEvent):
            return None
        get()  # document start
        stack = self.stack
        resolved, resolve = self.resolved, self.loader.resolve
        root: _Node | None = None
        while root is None:
            event = get()
            if type(event) is yaml.ScalarEvent and stack and event.anchor is event.tag is None:
                # the common case inline (it is most of the nodes): an untagged text scalar
                # inside a collection, below the cap
                text: str = event.value
                short = len(text) <= 32
                tag = resolved.get((text, event.implicit)) if short else None
                if tag is None:
                    tag = resolve(yaml.ScalarNode, text, event.implicit)
                    if short and len(resolved) < 10_000:  # ids, owners, durations repeat
                        resolved[(text, event.implicit)] = tag
                if tag in _AS_TEXT and self.count < MAX_NODES:
                    self.count += 1
                    mark: Any = event.start_mark
                    node = _Node(_SCALAR, mark.line + 1, mark.column + 1, text, text, tag)
                    stack[-1][0].items.append(node)  # type: ignore[union-attr]
                    continue
            if isinstance(event, yaml.CollectionEndEvent):
                node, _, anchor = stack.pop()
                if anchor is not None:
                    self.open_anchors.discard(anchor)
                    self.anchors[anchor] = node
                if not stack:
                    root = node
                continue
            node = self._node(event)
            opens = node.items is not None and not isinstance(event, yaml.AliasEvent)
            path = self.where() if opens else ()  # only frames need it: ~1/10 of the nodes
            if stack:
                items = stack[-1][0].items
                assert items is not None
                items.append(node)
            if opens:
                stack.append((node, path, event.anchor))
            elif not stack:
                root = node
        get()  # document end
        if not self.loader.check_event(yaml.StreamEndEvent):
            mark = get().start_mark
            raise PlanInvalid(
                [
                    PlanProblem(
                        self.file,
                        mark.line + 1,
                        mark.column + 1,
                        (),
                        "YAML syntax error: a second document starts here",
                        "a plan is one YAML document; remove this `---` and what follows",
                    )
                ]
            )
        return root

    def _node(self, event: Any) -> _Node:
        """A node for `event`, not yet attached (so self.where() still names its place)."""
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        if isinstance(event, yaml.AliasEvent):
            name: str = event.anchor or ""
            target = self.anchors.get(name)
            if target is not None:
                return target
            if name in self.open_anchors:
                self._problem(
                    line, col, self.where(), "an alias refers to itself", "remove the loop"
                )
            else:
                self._problem(
                    line,
                    col,
                    self.where(),
                    f"unknown alias '*{clip(name)}'",
                    "define the anchor (`&name`) before its use",
                )
            return _Node(_SCALAR, line, col)
        self.count += 1
        if self.count > MAX_NODES:
            raise PlanInvalid(
                [
                    PlanProblem(
                        self.file,
                        line,
                        col,
                        self.where(),
                        "the plan has too many values",
                        f"a plan holds at most {MAX_NODES} lists, mappings and scalars",
                    )
                ]
            )
        anchor = event.anchor
        if anchor is not None and (anchor in self.anchors or anchor in self.open_anchors):
            self._problem(
                line,
                col,
                self.where(),
                f"duplicate anchor '&{clip(anchor)}'",
                "give each anchor its own name",
            )
        if isinstance(event, yaml.ScalarEvent):
            node = self._scalar(event, line, col)
            if anchor is not None:
                self.anchors[anchor] = node
            return node
        kind = _SEQ if isinstance(event, yaml.SequenceStartEvent) else _MAP
        if event.tag not in (None, "!", _SEQ_TAG if kind == _SEQ else _MAP_TAG):
            self._problem(
                line, col, self.where(), f"the tag {_show_tag(event.tag)} is not allowed", _TAG_HINT
            )
        if len(self.stack) >= MAX_DEPTH:  # refused before the builder's recursion could see it
            raise PlanInvalid([too_deep(self.file, line, col, self.where())])
        if anchor is not None:
            self.open_anchors.add(anchor)
        return _Node(kind, line, col, items=[])

    def _scalar(self, event: Any, line: int, col: int) -> _Node:
        text: str = event.value
        tag = event.tag
        if tag is None or tag == "!":
            key = (text, event.implicit)
            tag = self.resolved.get(key) if len(text) <= 32 else None
            if tag is None:
                tag = self.loader.resolve(yaml.ScalarNode, text, event.implicit)
                if len(text) <= 32 and len(self.resolved) < 10_000:  # ids, owners, durations repeat
                    self.resolved[key] = tag
        elif tag not in _EXPLICIT_SCALAR:
            self._problem(
                line, col, self.where(), f"the tag {_show_tag(tag)} is not allowed", _TAG_HINT
            )
            return _Node(_SCALAR, line, col, text, None, _STR)
        value = text if tag in _AS_TEXT else self._value(tag, text, line, col)
        return _Node(_SCALAR, line, col, text, value, tag)

    def _value(self, tag: str, text: str, line: int, col: int) -> Any:
        if tag in _AS_TEXT:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            if text.lower() in _BOOLS:
                return _BOOLS[text.lower()]
            self._problem(
                line,
                col,
                self.where(),
                "cannot read this value as true or false",
                "write true or false",
            )
            return None
        word = "a whole number" if tag == _INT else "a number"
        if tag in (_INT, _FLOAT) and len(text) > _MAX_NUMBER_CHARS:
            self._problem(
                line,
                col,
                self.where(),
                f"this number is {len(text)} characters long",
                f"at most {_MAX_NUMBER_CHARS}; quote it if it is text",
            )
            return None
        try:
            if tag == _INT:
                return self.loader.construct_yaml_int(yaml.ScalarNode(tag, text))
            if tag == _FLOAT:
                return self.loader.construct_yaml_float(yaml.ScalarNode(tag, text))
        except (ValueError, yaml.YAMLError):
            self._problem(line, col, self.where(), f"cannot read {clip(text)!r} as {word}", "")
            return None
        return text  # no other tag resolves implicitly in the safe schema


class _Builder:
    """Nodes → plain values and the source map. Recursive, but the composer has bounded the
    syntactic depth; aliases can stack depth, so it is checked again here, and so is the size."""

    def __init__(self, source: SourceMap, problems: list[PlanProblem]) -> None:
        self.source = source
        self.problems = problems
        self.built = 0
        self.merging = 0  # inside `<<:` the mapping's own keys keep their positions

    def _mark(self, table: dict[Path, tuple[int, int]], path: Path, node: _Node) -> None:
        if self.merging:
            table.setdefault(path, (node.line, node.col))
        else:
            table[path] = (node.line, node.col)

    def build(self, node: _Node, path: Path, depth: int = 0) -> Any:
        if self.merging:
            self.source.values.setdefault(path, (node.line, node.col))
        else:
            self.source.values[path] = (node.line, node.col)
        self.built += 1
        if self.built > MAX_NODES:
            raise PlanInvalid(
                [
                    self.source.problem(
                        path,
                        "the plan expands to too many values",
                        f"at most {MAX_NODES}, counting an alias each time it is used",
                    )
                ]
            )
        if node.items is None:
            return node.value
        if depth >= MAX_DEPTH:
            raise PlanInvalid(
                [
                    too_deep(
                        self.source.file,
                        *self.source.locate(path),
                        path,
                        " once aliases are expanded",
                    )
                ]
            )
        if node.kind == _SEQ:
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.items)]
        return self._mapping(node.items, path, depth)

    def _mapping(self, items: list[_Node], path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for i in range(0, len(items), 2):
            key_node, value_node = items[i], items[i + 1]
            if key_node.items is None and key_node.tag == _MERGE:
                self._merge(value_node, path, depth, merged)
                continue
            if key_node.items is not None:
                self.problems.append(
                    PlanProblem(
                        self.source.file,
                        key_node.line,
                        key_node.col,
                        path,
                        "a key must be plain text",
                        "write `name: value`",
                    )
                )
                continue
            key = key_node.text
            child = (*path, key)
            if key in result:
                first_line = self.source.keys[child][0]
                self.problems.append(
                    PlanProblem(
                        self.source.file,
                        key_node.line,
                        key_node.col,
                        child,
                        f"duplicate key '{clip(key)}'",
                        f"already set on line {first_line}; keep one",
                    )
                )
                continue
            self._mark(self.source.keys, child, key_node)
            result[key] = self.build(value_node, child, depth + 1)
        return {**merged, **result}

    def _merge(self, node: _Node, path: Path, depth: int, merged: dict[str, Any]) -> None:
        """`<<: *base` or `<<: [*a, *b]`: keys the mapping lacks, the first source winning."""
        parts = node.items if node.kind == _SEQ and node.items is not None else [node]
        self.merging += 1
        try:
            for part in parts:
                if part.kind != _MAP:
                    self.problems.append(
                        PlanProblem(
                            self.source.file,
                            part.line,
                            part.col,
                            path,
                            "`<<` merges a mapping or a list of mappings",
                            "write `<<: *anchor` where the anchor names a mapping",
                        )
                    )
                    continue
                for key, value in self.build(part, path, depth).items():
                    merged.setdefault(key, value)
        finally:
            self.merging -= 1


def _line_text(text: str, line: int) -> str:
    """Line `line` (1-based) of `text`, or '' (only used on the error path)."""
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str, text: str = "") -> PlanProblem:
    """Point at what a person must fix: the opening quote or bracket of an unclosed one."""
    problem = exc.problem or "not valid YAML"
    context = exc.context or ""
    unclosed = context.startswith(("while scanning a quoted", "while parsing a flow"))
    mark = exc.context_mark if unclosed and exc.context_mark else exc.problem_mark
    mark = mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    # PyYAML names the tab ('\t'), libyaml says "a tab character" or only "cannot start a token"
    at = _line_text(text, line)[col - 1 : col] if text and mark else ""
    if "\\t" in problem or "\t" in problem or "tab character" in problem or at == "\t":
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
    detail = clip(f"{problem}" + (f", {context}" if context else ""), 200)
    return PlanProblem(
        file,
        line,
        col,
        (),
        f"YAML syntax error: {detail}",
        "check the indentation, colons and quotes around here",
    )


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> PlanProblem:
    offset = exc.position
    if _LIBYAML:  # libyaml counts bytes of the UTF-8 text, PyYAML characters
        offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return PlanProblem(
        file,
        line,
        col,
        (),
        f"character {char!r} is not allowed in YAML",
        "remove it or quote the text",
    )


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain values plus its source map.

    Raises PlanInvalid for syntax errors, duplicate keys, unreadable scalars, foreign tags, and
    input past the depth and size caps.
    """
    source = SourceMap(file)
    composer: _Composer | None = None
    try:
        loader = _Loader(text)
    except UnicodeError:  # lone surrogates in text that came from somewhere other than a file
        raise PlanInvalid(
            [PlanProblem(file, 1, 1, (), "the plan is not UTF-8 text", "save it as UTF-8")]
        ) from None
    try:
        composer = _Composer(loader, file)
        node = composer.compose()
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in (exc.problem or "") and exc.problem_mark:  # libyaml's own cap
            mark = exc.problem_mark
            raise PlanInvalid(
                [
                    too_deep(
                        file, mark.line + 1, mark.column + 1, composer.where() if composer else ()
                    )
                ]
            ) from None
        raise PlanInvalid([_syntax_problem(exc, file, text)]) from None
    except yaml.reader.ReaderError as exc:
        raise PlanInvalid([_reader_problem(exc, text, file)]) from None
    except yaml.YAMLError as exc:
        raise PlanInvalid(
            [PlanProblem(file, 1, 1, (), f"YAML error: {clip(str(exc), 200)}", "")]
        ) from None
    finally:
        loader.dispose()
    if node is None:
        raise PlanInvalid(
            [PlanProblem(file, 1, 1, (), "the plan is empty", "start with a `cutover:` section")]
        )
    problems = composer.problems
    value = _Builder(source, problems).build(node, ())
    if problems:
        # a problem inside an anchor is met once per alias: say it once
        unique: dict[tuple[int, int, str], PlanProblem] = {}
        for problem in problems:
            unique.setdefault((problem.line, problem.column, problem.message), problem)
        raise PlanInvalid(unique.values())
    return value, source
