"""The imported plan as YAML a reviewer reads: the schema modeline first, sections in the usual
order, multi-line text as `|` blocks, and above each step where it came from (`# Sheet!row`)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..plan.editor_schema import MODELINE_PREFIX
from ..untrusted import inert


class _Dumper(yaml.SafeDumper):
    pass


# Printable to YAML, but they reorder or hide text when the file is shown (Trojan Source): such
# strings are double-quoted and these characters written as escapes.
_FORMAT = re.compile("[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if _FORMAT.search(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if (
        "\n" in value
        and value == value.strip(" ")
        and not any(ord(c) < 32 and c not in "\n\t" for c in value)
    ):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def dump(value: Any) -> str:
    text = yaml.dump(
        value,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,  # names and arrows as written; control characters are escaped
        width=100,
        default_flow_style=False,
    )
    return _FORMAT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _indent(text: str, by: str = "  ") -> str:
    return "".join(by + line if line.strip() else line for line in text.splitlines(True))


def comment(text: str) -> str:
    """One comment line: the boundary makes any newline or control in it visible."""
    return "# " + inert(text, limit=300)


def plan_yaml(
    plan: dict[str, Any],
    step_comments: list[list[str]],
    header: list[str],
    schema_ref: str,
) -> str:
    """The plan's text. `step_comments[i]` are the comment lines above step i."""
    out = [f"{MODELINE_PREFIX}{schema_ref}\n"]
    out.extend(comment(line) + "\n" for line in header)
    for key, value in plan.items():
        if key == "steps":
            out.append("steps:\n")
            for index, step in enumerate(value):
                for line in step_comments[index] if index < len(step_comments) else []:
                    out.append("  " + comment(line) + "\n")
                out.append(_indent(dump([step])))
        else:
            out.append(dump({key: value}))
    return "".join(out)
