"""`cutover schema`: the plan format as a draft-07 JSON Schema that agrees with the validator."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import regress
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PLANS, ROOT, run_cli

from cutover_console.plan import load_plan_text
from cutover_console.plan.editor_schema import (
    DURATION_SCHEMA,
    REGENERATE,
    RETENTION_SCHEMA,
    TIME_SCHEMA,
    _PlanSchema,
    foreign_keywords,
    plan_schema,
    schema_text,
)
from cutover_console.plan.model import Duration, Strict, WallTime
from cutover_console.plan.timeparse import TimeSyntaxError, parse_duration, parse_time

COMMITTED = ROOT / "schema" / "plan.schema.json"
MODELINE = "# yaml-language-server: $schema="
# Every plan we ship or test with that is meant to be valid (not tests/plans/broken or hostile).
SHIPPED_PLANS = [
    ROOT / "checklists" / "collision-bi-weekend.yaml",
    ROOT / "checklists" / "demo.yaml",
    ROOT / "cutover_console" / "rehearsal" / "demo.yaml",
    *sorted(PLANS.glob("*.yaml")),
]


def ecma(pattern: str) -> regress.Regex:
    """The pattern as an editor's (ECMA-262) engine reads it: what yaml-language-server and
    check-jsonschema's default use."""
    return regress.Regex(pattern)


def matches(schema: dict[str, object], value: str) -> bool:
    pattern = schema["pattern"]
    assert isinstance(pattern, str)
    limit = schema.get("maxLength")
    if isinstance(limit, int) and len(value) > limit:
        return False
    return ecma(pattern).find(value) is not None


def test_the_committed_schema_is_the_model_s() -> None:
    """The drift check: schema/plan.schema.json is exactly what the model generates now."""
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    assert committed == schema_text(), (
        f"schema/plan.schema.json differs from the plan model; regenerate it with: {REGENERATE}"
    )


def test_cutover_schema_prints_the_committed_file() -> None:
    done = run_cli("schema")
    assert done.returncode == 0, done.stderr
    assert done.stdout == schema_text()
    assert REGENERATE in done.stdout  # the file itself says how it is made


def test_only_draft_07_keywords() -> None:
    schema = plan_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert foreign_keywords(schema) == []
    text = json.dumps(schema)
    assert "$defs" not in text and "prefixItems" not in text and "unevaluated" not in text
    assert '"format": "duration"' not in text  # ISO 8601 durations are not what plans write
    assert foreign_keywords({"properties": {"x": {"prefixItems": []}}}) == [
        "#/properties/x/prefixItems"
    ]


def test_generated_from_the_model_for_any_new_field() -> None:
    """A field another change adds with our types gets our patterns, with no list to update."""

    class Later(Strict):
        wait: Duration
        at: WallTime | None = None
        every: Duration = timedelta(minutes=2, seconds=5)

    schema = Later.model_json_schema(schema_generator=_PlanSchema)
    assert schema["properties"]["wait"]["pattern"] == DURATION_SCHEMA["pattern"]
    assert schema["properties"]["at"]["anyOf"][0]["pattern"] == TIME_SCHEMA["pattern"]
    assert schema["properties"]["every"]["default"] == "2m5s"


def test_the_schema_examples_pass_cutover_check() -> None:
    schema = plan_schema()
    for example in schema["examples"]:
        load_plan_text(yaml.safe_dump(example, sort_keys=False), "<example>")
    for kind, parse in (
        (DURATION_SCHEMA, parse_duration),
        (TIME_SCHEMA, parse_time),
    ):
        for value in kind["examples"]:
            parse(value)
            assert matches(kind, value), value
    for value in RETENTION_SCHEMA["examples"]:
        assert matches(RETENTION_SCHEMA, value)


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(COMMITTED)]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_jsonschema_accepts_every_shipped_and_test_plan() -> None:
    done = check_jsonschema(*SHIPPED_PLANS)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "name, wrong",
    [
        ("21-duration-bare-number.yaml", "15 is not of type 'string'"),
        ("22-duration-words.yaml", "'fifteen minutes' does not match"),
        ("25-time-tomorrow.yaml", "'tomorrow' is not valid"),
        ("32-id-uppercase.yaml", "'Lena' does not match"),
        ("10-step-unknown-key-ownr.yaml", "'ownr' was unexpected"),
    ],
)
def test_check_jsonschema_refuses_what_cutover_check_refuses(name: str, wrong: str) -> None:
    done = check_jsonschema(PLANS / "broken" / name)
    assert done.returncode == 1 and wrong in done.stdout, done.stdout + done.stderr


def test_the_shipped_plans_carry_the_modeline() -> None:
    for plan in [*SHIPPED_PLANS, ROOT / "checklists" / "demo.yaml"]:
        first = plan.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(MODELINE), plan
        if plan.parent.name == "rehearsal":
            continue  # opened as checklists/demo.yaml (a link), whose path the modeline uses
        target = (plan.parent / first.removeprefix(MODELINE)).resolve()
        assert target == COMMITTED.resolve(), plan


# --- the schema and the validator agree (hypothesis) -----------------------------------------

_UNITS = ["d", "h", "m", "min", "s"]
_SPACE = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def written_durations(draw: st.DrawFn) -> str:
    """Durations as people write them, and near misses: units in and out of order, repeated,
    missing, numbers with other digits, stray words."""
    parts = draw(st.lists(st.sampled_from([*_UNITS, "x", "hr", ""]), min_size=0, max_size=5))
    out = draw(_SPACE)
    for unit in parts:
        digits = draw(
            st.one_of(
                st.integers(0, 100000).map(str),
                st.text(st.characters(categories=["Nd"]), min_size=1, max_size=3),
            )
        )
        out += digits + draw(_SPACE) + unit + draw(_SPACE)
    return out


def _accepted(parse: object, value: str) -> bool:
    try:
        parse(value)  # type: ignore[operator]
    except TimeSyntaxError:
        return False
    return True


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        written_durations(),
        st.text(max_size=20),
        st.text(alphabet="0123456789dhms \t\u3000\u00a0\x1c", max_size=12),
    )
)
def test_durations_schema_and_validator_agree(value: str) -> None:
    """Same verdict both ways; the one thing a pattern cannot count is the 30-day cap."""
    valid = _accepted(parse_duration, value)
    in_schema = matches(DURATION_SCHEMA, value)
    if valid:
        assert in_schema, value
    elif in_schema:
        with pytest.raises(TimeSyntaxError, match="longer than any cutover step"):
            parse_duration(value)


_TIME_FORMATS = [
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y%m%dT%H%M",
    "%Y%m%dT%H%M%S",
    "%Y-%m-%dT%H",
    "%G-W%V-%uT%H:%M",
]


@st.composite
def written_times(draw: st.DrawFn) -> str:
    when = draw(st.datetimes(datetime(1960, 1, 1), datetime(3100, 12, 31)))
    text = when.strftime(draw(st.sampled_from(_TIME_FORMATS)))
    if draw(st.booleans()):
        text = text.replace("-0", "-", draw(st.integers(0, 2)))  # 2026-1-5 06:00
    if draw(st.booleans()):
        offset = draw(st.integers(-14 * 60, 14 * 60))
        zone = timezone(timedelta(minutes=offset)) if offset else UTC
        text = when.replace(tzinfo=zone).isoformat(
            sep=draw(st.sampled_from(["T", " "])),
            timespec=draw(st.sampled_from(["hours", "minutes", "seconds", "milliseconds"])),
        )
        if offset == 0 and draw(st.booleans()):
            text = text.replace("+00:00", "Z")
    return draw(_SPACE) + text + draw(_SPACE)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(written_times(), st.text(max_size=25)))
def test_every_time_the_plan_accepts_is_in_the_schema(value: str) -> None:
    """Never stricter than the parser (an editor must not flag a valid plan); looser only at
    the edges a pattern cannot see (31 February)."""
    if _accepted(parse_time, value):
        assert matches(TIME_SCHEMA, value), value


@settings(max_examples=500)
@given(st.one_of(st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,63}", fullmatch=True), st.text()))
def test_ids_schema_and_validator_agree(value: str) -> None:
    from pydantic import ValidationError

    from cutover_console.plan.model import Phase

    schema = plan_schema()["definitions"]["Phase"]["properties"]["id"]
    try:
        Phase(id=value, title="t")
        valid = True
    except ValidationError:
        valid = False
    assert valid == (ecma(schema["pattern"]).find(value) is not None), repr(value)
