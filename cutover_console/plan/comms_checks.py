"""Cross-checks of the `comms:` section: references between audiences, rules, templates and steps;
channels only as secret references; templates that parse and use only known fields.

Templates are parsed with Jinja2's sandboxed environment, imported only when a plan has a
`comms:` section (plans without one never load it).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .comms import TEMPLATE_FIELDS
from .model import Plan
from .problems import Path, PlanProblem, clip
from .yaml_source import SourceMap

SECRET_REFERENCE = re.compile(r"^(env|file):\S+$")
_Error = Callable[..., None]


def check_comms(
    plan: Plan, source: SourceMap, error: _Error, did_you_mean: Callable[[str, list[str]], str]
) -> list[PlanProblem]:
    """Report every problem through `error(path, message, hint)`; template field problems are
    returned as problems of their own (they carry the column inside the template)."""
    comms = plan.comms
    steps_of_kind = [(i, s) for i, s in enumerate(plan.steps) if s.kind == "comms" or s.comms]
    for index, step in steps_of_kind:
        if step.kind == "comms" and step.comms is None:
            error(
                ("steps", index, "kind"),
                "a step of kind comms needs `comms:` (the template and audiences it sends to)",
            )
        elif step.kind != "comms" and step.comms is not None:
            error(("steps", index, "comms"), "`comms:` belongs to a step of `kind: comms`")
        elif comms is None:
            error(("steps", index, "comms"), "the plan has no `comms:` section to send from")
    if comms is None:
        return []
    audiences = [a.id for a in comms.audiences]
    templates = [t.id for t in comms.templates]
    step_ids = [s.id for s in plan.steps]

    def known(path: Path, name: str, names: list[str], what: str) -> None:
        if name not in names:
            error(
                path,
                f"no {what} '{clip(name)}' in `comms`",
                did_you_mean(name, names) or f"{what}s: {', '.join(names[:12])}",
            )

    for a_index, audience in enumerate(comms.audiences):
        for c_index, channel in enumerate(audience.channels):
            if not SECRET_REFERENCE.match(channel):
                shown = "a URL" if "://" in channel else f"'{clip(channel, 20)}'"
                error(
                    ("comms", "audiences", a_index, "channels", c_index),
                    f"a channel is written inline ({shown}); channel URLs carry secrets",
                    "put the Apprise URL in an environment variable or a file and write "
                    "env:NAME or file:/path",
                )
    for r_index, rule in enumerate(comms.updates):
        for i, name in enumerate(rule.audiences):
            known(("comms", "updates", r_index, "audiences", i), name, audiences, "audience")
        known(("comms", "updates", r_index, "template"), rule.template, templates, "template")
        if rule.step is not None and rule.step not in step_ids:
            error(
                ("comms", "updates", r_index, "step"),
                f"no step '{clip(rule.step)}'",
                did_you_mean(rule.step, step_ids) or "name a step id",
            )
    for index, step in steps_of_kind:
        if step.comms is None:
            continue
        for i, name in enumerate(step.comms.audiences):
            known(("steps", index, "comms", "audiences", i), name, audiences, "audience")
        known(("steps", index, "comms", "template"), step.comms.template, templates, "template")
    found: list[PlanProblem] = []
    for t_index, template in enumerate(comms.templates):
        for part in ("title", "body"):
            found += template_problems(
                getattr(template, part), ("comms", "templates", t_index, part), source
            )
    return found


def template_problems(text: str, path: Path, source: SourceMap) -> list[PlanProblem]:
    """Syntax errors and unknown fields of one template, at FILE:LINE:COL of the field."""
    from jinja2 import TemplateSyntaxError, meta
    from jinja2.sandbox import SandboxedEnvironment

    line, col = source.locate(path)
    key_col = source.locate(path, key=True)[1]
    env = SandboxedEnvironment()
    try:
        parsed = env.parse(text)
    except TemplateSyntaxError as exc:
        at_line, at_col = _inside(text, line, col, key_col, (exc.lineno or 1) - 1, 0)
        return [
            PlanProblem(
                source.file,
                at_line,
                at_col,
                path,
                f"the template does not parse: {clip(exc.message or '', 120)}",
                "fields are written {{ name }}",
            )
        ]
    out = []
    for name in sorted(meta.find_undeclared_variables(parsed)):
        if name in TEMPLATE_FIELDS:
            continue
        offset = _first_use(text, name)
        at_line, at_col = _inside(text, line, col, key_col, *offset)
        out.append(
            PlanProblem(
                source.file,
                at_line,
                at_col,
                path,
                f"the template uses an unknown field '{clip(name, 40)}'",
                "fields: " + ", ".join(TEMPLATE_FIELDS),
            )
        )
    return out


def _first_use(text: str, name: str) -> tuple[int, int]:
    """(line, column), from 0, of the first `name` inside a {{ }} or {% %} of `text`."""
    for match in re.finditer(r"\{[{%].*?[}%]\}", text, re.S):
        inner = re.search(rf"\b{re.escape(name)}\b", match.group(0))
        if inner is not None:
            at = match.start() + inner.start()
            before = text[:at]
            return before.count("\n"), at - (before.rfind("\n") + 1)
    return 0, 0


def _inside(text: str, line: int, col: int, key_col: int, row: int, column: int) -> tuple[int, int]:
    """Where (row, column) of a template sits in the file: a one-line (flow) scalar starts at
    the value (+1 for its quote); a block scalar (`|`) starts on the next line, indented two
    past its key (the usual style; the line is exact either way)."""
    if "\n" not in text.rstrip("\n"):
        return line, col + column + 1
    return line + 1 + row, key_col + 2 + column
