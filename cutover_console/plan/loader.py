"""Load a plan file: YAML → shapes (pydantic) → cross-references → secrets → schedule fit.

Every problem comes back as a `PlanProblem` with file, line, column and field path. Nothing a plan
author can write produces a traceback.
"""

from __future__ import annotations

import difflib
import gc
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from . import crossrefs
from . import keys as signing_keys
from .model import Plan
from .problems import Path, PlanInvalid, PlanProblem, clip
from .yaml_source import SourceMap, parse_yaml

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


@dataclass(frozen=True)
class PlanDocument:
    """A valid plan together with the exact text it came from (the journal stores both)."""

    plan: Plan
    text: str
    sha256: str
    file: str
    warnings: list[PlanProblem] = field(default_factory=list)
    keys: dict[str, list[str]] = field(default_factory=dict)  # person -> resolved key lines


def plan_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


MAX_PLAN_BYTES = 10_000_000  # 10 MB: the shipped weekend runbook is 79 kB
MAX_LINE_CHARS = 10_000  # a reviewed runbook wraps its text; longer lines are generated or hostile
_NOT_REGULAR = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _refuse(file: str, message: str, hint: str, line: int = 1, col: int = 1) -> PlanInvalid:
    return PlanInvalid([PlanProblem(file, line, col, (), message, hint)])


def read_plan_bytes(path: str | FsPath) -> bytes:
    """The bytes of a plan file, never more than MAX_PLAN_BYTES + 1 of them read.

    Opened without blocking (a FIFO with no writer must not hang us) and refused unless it is a
    regular file: /dev/zero or a pipe would otherwise be read until memory runs out."""
    file = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _refuse(file, f"cannot read the plan: {exc.strerror}", "check the path") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
            raise _refuse(
                file, f"cannot read the plan: it is {what}", "give the path of a YAML file"
            )
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_PLAN_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_PLAN_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _refuse(file, f"cannot read the plan: {exc.strerror}", "check the path") from None
    finally:
        os.close(fd)
    if size > MAX_PLAN_BYTES:
        raise _refuse(
            file,
            "the plan file is larger than 10 MB",
            f"a plan is at most {MAX_PLAN_BYTES} bytes; split generated data out of it",
        )
    return b"".join(chunks)


def load_plan(path: str | FsPath) -> PlanDocument:
    """Read and validate a plan file. Raises PlanInvalid with every problem found."""
    file = str(path)
    raw = read_plan_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        col = len(raw[start : exc.start].decode("utf-8", "replace")) + 1
        raise _refuse(
            file,
            f"the plan is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            "save it as UTF-8",
            line,
            col,
        ) from None
    long_line = _long_line(text, file)
    try:
        document = load_plan_text(text, file, key_files=True)
    except PlanInvalid as exc:  # what else is wrong (a 10,000-level list on one line) comes first
        if long_line is None:
            raise
        raise PlanInvalid([*exc.found, long_line]) from None
    if long_line is not None:
        raise PlanInvalid([long_line])
    return document


def _long_line(text: str, file: str) -> PlanProblem | None:
    """The first line longer than MAX_LINE_CHARS, as a problem."""
    lines = text.splitlines()
    if max(map(len, lines), default=0) <= MAX_LINE_CHARS:  # map/max: a C loop over 10 MB
        return None
    number = next(i for i, line in enumerate(lines, 1) if len(line) > MAX_LINE_CHARS)
    return PlanProblem(
        file,
        number,
        MAX_LINE_CHARS + 1,
        (),
        f"line {number} is {len(lines[number - 1])} characters long",
        f"at most {MAX_LINE_CHARS} characters a line; wrap long text in a `|` block",
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic GC rescans the growing heap of nodes, values and models while a plan loads:
    a third of the time for a big plan. Nothing here makes cycles worth collecting meanwhile."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def load_plan_text(text: str, file: str = "<plan>", *, key_files: bool = False) -> PlanDocument:
    """Validate plan text (from a file or from a journal). Raises PlanInvalid. With
    `key_files`, people's `file:` keys are read relative to `file` (never from a journal)."""
    with _gc_paused():
        return _load_plan_text(text, file, key_files)


def _load_plan_text(text: str, file: str, key_files: bool = False) -> PlanDocument:
    data, source = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise PlanInvalid(
            [source.problem((), "a plan is a mapping of sections", "start with `cutover:`")]
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanInvalid(_translate(exc, data, source)) from None
    problems = crossrefs.check(plan, data, source)
    keys, key_problems = signing_keys.resolve(plan, file if key_files else None, source)
    problems.extend(key_problems)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PlanInvalid(errors)
    warnings = [p for p in problems if p.severity == "warning"]
    return PlanDocument(plan, text, plan_sha256(text), file, warnings, keys)


def _translate(exc: ValidationError, data: Any, source: SourceMap) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    seen: set[tuple[Path, str]] = set()
    for error in exc.errors(include_url=False):
        path = _data_path(error["loc"], data)
        kind = error["type"]
        item = (error.get("ctx") or {}).get("item")
        if item is not None:  # a model validator that knows which list entry is wrong
            path = (*path, *item)
        problem = _problem(kind, error, path, data, source)
        if (path, problem.message) not in seen:
            seen.add((path, problem.message))
            problems.append(problem)
    return problems


def _data_path(loc: tuple[Any, ...], data: Any) -> Path:
    """Keep only the parts of pydantic's location that exist in the data (drops union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and not path_is_tag(part):
            path.append(part)  # a missing or unknown key: still name it
            node = None
    return tuple(path)


def path_is_tag(part: str) -> bool:
    return "[" in part or part.startswith(("function-", "literal["))


def _problem(kind: str, error: Any, path: Path, data: Any, source: SourceMap) -> PlanProblem:
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        fields = sorted(_model_fields(path[:-1]))
        near = difflib.get_close_matches(key, fields, n=1, cutoff=0.7) if len(key) <= 64 else []
        hint = f"did you mean '{near[0]}'?" if near else ""
        hint = (hint + " " if hint else "") + f"valid keys: {', '.join(fields)}"
        return source.problem(path, f"unknown key '{clip(key)}'", hint, key=True)
    if kind == "missing":
        name = str(path[-1]) if path else "?"
        return source.problem(path, "required field missing", f"add `{name}:`", key=True)
    if kind in _TYPE_WORDS:
        got = _describe(value)
        return source.problem(path, f"expected {_TYPE_WORDS[kind]}, got {got}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        options = re.findall(r"'([^']*)'", expected)
        said = clip(repr(value))
        near = (
            difflib.get_close_matches(str(value), options, n=1, cutoff=0.7)
            if len(said) <= 64
            else []
        )
        hint = (f"did you mean '{near[0]}'? " if near else "") + f"one of: {expected}"
        return source.problem(path, f"{said} is not allowed", hint)
    if kind == "string_pattern_mismatch":
        return source.problem(
            path,
            f"{clip(repr(value))} is not a valid id",
            "ids are 1-64 lowercase letters, digits, '-', '_' or '.', "
            "starting with a letter or digit",
        )
    if kind == "too_short":
        return source.problem(path, "must not be empty", "add at least one entry")
    if kind == "plan":
        message = str(error["msg"])
        if " (" in message and message.endswith(")"):
            head, _, tail = message.partition(" (")
            return source.problem(path, head, tail[:-1])
        return source.problem(path, message)
    return source.problem(path, str(error["msg"]).rstrip("."))


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {clip(value, 60)!r}"[:60]
    return f"{value!r}"


def _model_fields(path: Path) -> set[str]:
    """The keys the model at `path` accepts, found by walking the annotations from Plan."""
    model: Any = Plan
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return set()
        info = model.model_fields.get(part)
        if info is None:
            return set()
        model = _unwrap(info.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return set(model.model_fields)
    return set()


def _unwrap(annotation: Any) -> Any:
    """list[X] / X | None / Annotated[X, ...] → X (the first model found)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation) or ():
        found = _unwrap(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    if get_origin(annotation) is None:
        return annotation
    return None
