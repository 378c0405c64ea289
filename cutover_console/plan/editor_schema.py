"""The plan format as a JSON Schema (draft-07) for editors: `cutover schema`.

Generated from the pydantic model, so a field another change adds appears here without a second
list to keep in step. Three things pydantic would get wrong for our readers are fixed on the way:

- yaml-language-server validates with draft-07 and warns on 2020-12: `$defs` become
  `definitions`, and only draft-07 keywords (plus the editor's own hints) may appear;
- plans write durations as `1h30m` and times as `2026-12-05 06:00`, not ISO 8601 `PT1H30M`:
  each field parsed by one of our parsers gets a pattern that accepts what that parser accepts
  (tests/unit/test_editor_schema.py checks the two agree, with hypothesis);
- defaults are written the way a plan writes them (`30s`, not `PT30S`).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from . import comms, durations, model
from .model import Plan

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
REGENERATE = "cutover schema > schema/plan.schema.json"
MODELINE_PREFIX = "# yaml-language-server: $schema="

# The draft-07 vocabulary, and the hints yaml-language-server reads besides (it ignores others).
DRAFT_07_KEYWORDS = frozenset(
    {
        "$schema", "$id", "$ref", "$comment", "title", "description", "default", "examples",
        "readOnly", "writeOnly", "type", "enum", "const", "multipleOf", "maximum",
        "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
        "items", "additionalItems", "maxItems", "minItems", "uniqueItems", "contains",
        "maxProperties", "minProperties", "required", "properties", "patternProperties",
        "additionalProperties", "dependencies", "propertyNames", "if", "then", "else", "allOf",
        "anyOf", "oneOf", "not", "format", "definitions",
        "markdownDescription", "deprecationMessage", "defaultSnippets", "doNotSuggest",
    }
)  # fmt: skip
# Keywords whose value maps names (not keywords) to schemas.
_NAMED = frozenset({"properties", "patternProperties", "definitions", "dependencies"})


def _duration_pattern() -> str:
    """timeparse's duration grammar without lookahead: at least one of d, h, m(in), s, in that
    order, ASCII digits, spaces anywhere between the parts."""
    units = [r"d", r"h", r"m(?:in)?", r"s"]
    space = r"[ \t\n\r\f\v]*"  # Python's ASCII \s; ECMA's \s also takes Unicode spaces
    alternatives = []
    for first in range(len(units)):
        rest = "".join(rf"(?:{space}[0-9]+{space}{u})?" for u in units[first + 1 :])
        alternatives.append(rf"[0-9]+{space}{units[first]}{rest}")
    return rf"^{space}(?:{'|'.join(alternatives)}){space}$"


DURATION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": _duration_pattern(),
    "maxLength": 64,
    "description": "A duration: 45s, 15m, 1h30m, 2d (at most 30d; a bare number has no unit)",
    "examples": ["15m", "1h30m", "45s", "2d 4h"],
}
# A year 1970-2999, a date (YYYY-MM-DD or ISO week and compact forms), then a time of day and
# an optional offset. Looser than the parser at the edges (31 February), never stricter.
TIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*(?:19[7-9][0-9]|2[0-9]{3})-?(?:[0-9]{1,2}|W[0-9]{2})-?\s?[0-9]{1,2}"
    r"(?:[\s\S]\s*[0-9]{1,2}(?::?[0-9]{1,2}){0,2}(?:[.,][0-9]+)?"
    r"\s*(?:Z|[+-][0-9]{2}(?::?[0-9]{2}){0,2}(?:\.[0-9]+)?)?)\s*$",
    "description": "A time: YYYY-MM-DD HH:MM in the cutover's time zone, or ISO 8601 with an "
    "offset (2026-12-05T12:00:00Z)",
    "examples": ["2026-12-05 06:00", "2026-12-05T12:00:00Z", "2026-12-05T06:00:00-06:00"],
}
RETENTION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[1-9][0-9]{0,4}[dy]$",
    "description": "A retention in whole days or years: 90d, 400d, 7y",
    "examples": ["90d", "7y"],
}
CLOCK_TIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
    "description": 'A time of day, quoted: "08:00"',
    "examples": ["08:00"],
}
# The validators behind our annotated types, and what each accepts as text.
_PARSED_BY: dict[object, dict[str, Any]] = {
    durations._duration: DURATION_SCHEMA,
    comms._clock_time: CLOCK_TIME_SCHEMA,
    model._time: TIME_SCHEMA,
    model._retention_days: RETENTION_SCHEMA,
}


class _PlanSchema(GenerateJsonSchema):
    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        known = _PARSED_BY.get(schema["function"]["function"])
        if known is not None:
            return dict(known)
        return super().function_before_schema(schema)

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return exact_duration(dft)
        return super().encode_default(dft)


def exact_duration(delta: timedelta) -> str:
    """`1d2h30m15s`: every unit kept (timestamps.short_duration drops seconds past a day)."""
    total = int(delta.total_seconds())
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    parts = ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"))
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


EXAMPLE_PLAN: dict[str, Any] = {
    "version": 1,
    "cutover": {
        "id": "example-cutover",
        "name": "Example cutover",
        "client": "Example client",
        "timezone": "America/Chicago",
        "window": {"start": "2026-12-05 06:00", "end": "2026-12-06 18:00"},
    },
    "people": [{"id": "lena", "name": "Lena Ortiz", "roles": ["lead"], "contact": "+1 555 0100"}],
    "phases": [{"id": "prepare", "title": "Prepare"}],
    "steps": [
        {
            "id": "freeze",
            "title": "Freeze changes",
            "phase": "prepare",
            "owner": "lena",
            "duration": "30m",
        },
        {
            "id": "backup",
            "title": "Full backup",
            "phase": "prepare",
            "owner": "lead",
            "duration": "1h30m",
            "depends_on": ["freeze"],
        },
    ],
}


def _to_draft_07(node: Any) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$defs":
                key = "definitions"
            if key == "$ref" and isinstance(value, str):
                value = value.replace("#/$defs/", "#/definitions/")
            out[key] = _to_draft_07(value)
        return out
    if isinstance(node, list):
        return [_to_draft_07(item) for item in node]
    return node


def foreign_keywords(node: Any, where: str = "#") -> list[str]:
    """Where the schema uses a keyword outside draft-07 (and the editor's hints)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in DRAFT_07_KEYWORDS:
                found.append(f"{where}/{key}")
            elif key in _NAMED and isinstance(value, dict):
                for name, sub in value.items():
                    found.extend(foreign_keywords(sub, f"{where}/{key}/{name}"))
            elif key in ("default", "examples", "enum", "const"):
                continue  # values, not schemas
            elif isinstance(value, dict):
                found.extend(foreign_keywords(value, f"{where}/{key}"))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    found.extend(foreign_keywords(item, f"{where}/{key}/{i}"))
    return found


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of a plan file, draft-07."""
    generated = Plan.model_json_schema(schema_generator=_PlanSchema, mode="validation")
    schema = _to_draft_07(generated)
    schema.pop("title", None)
    head = {
        "$schema": DRAFT_07,
        "title": "Cutover Console plan",
        "$comment": f"Generated from the plan model; regenerate with: {REGENERATE}",
    }
    schema = {**head, **schema, "examples": [EXAMPLE_PLAN]}
    wrong = foreign_keywords(schema)
    if wrong:  # a new field type pydantic renders with 2020-12 keywords: fail loudly, here
        raise ValueError(f"not draft-07: {', '.join(wrong)}")
    return schema


def schema_text() -> str:
    """Exactly what `cutover schema` prints and schema/plan.schema.json holds."""
    return json.dumps(plan_schema(), indent=2, ensure_ascii=True) + "\n"
