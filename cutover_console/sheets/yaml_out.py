"""The imported plan as YAML a reviewer reads: the schema modeline first, sections in the usual
order, multi-line text as `|` blocks, and above each step where it came from (`# Sheet!row`)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..plan.editor_schema import MODELINE_PREFIX
from ..untrusted import inert


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter when it is built in: 20 times faster for a 5,000-step plan."""


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
            # One dump for the list (a dump per step costs a dumper each: seconds at 5,000);
            # each step starts at the only lines that begin with "- " in column 0.
            index = 0
            for line in dump(value).splitlines(True):
                if line.startswith("- "):
                    for note in step_comments[index] if index < len(step_comments) else []:
                        out.append("  " + comment(note) + "\n")
                    index += 1
                out.append("  " + line if line.strip() else line)
        else:
            out.append(dump({key: value}))
    return "".join(out)
