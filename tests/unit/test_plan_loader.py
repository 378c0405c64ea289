"""Plan loading: valid plans, the broken-plan corpus (line and field asserted), a fuzz."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PLANS, SHIPPED, SMALL, run_cli

from cutover_console.plan import PlanInvalid, load_plan, load_plan_text
from cutover_console.plan.model import expand_names
from cutover_console.plan.problems import format_path
from cutover_console.plan.schedule import planned

BROKEN = sorted((PLANS / "broken").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): ([^:]+): (.+)$")


def test_small_plan_loads() -> None:
    document = load_plan(SMALL)
    plan = document.plan
    assert [s.id for s in plan.steps][:2] == ["freeze", "backup"]
    assert plan.step("backup").duration == timedelta(minutes=30)
    # naive times mean the client's wall clock
    assert plan.cutover.window.start.utcoffset() == timedelta(hours=-6)
    assert plan.step("dns-switch").gates[0].id == "authority-new"
    assert document.warnings == []


def test_shipped_plan_is_a_real_runbook() -> None:
    document = load_plan(SHIPPED)
    plan = document.plan
    assert document.warnings == []
    assert len(plan.steps) >= 30
    assert sum(1 for s in plan.steps if s.point_of_no_return) == 1
    assert sum(1 for s in plan.steps if s.signoff and s.signoff.count >= 2) >= 3
    assert all(p.rollback for p in plan.phases)
    assert planned(plan).end <= plan.cutover.window.end
    assert plan.dns is not None and len(plan.dns.records) >= 3
    assert plan.flows and plan.reconcile and plan.logs


def test_check_command_on_shipped_plan() -> None:
    result = run_cli("check", str(SHIPPED))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "critical path" in result.stdout
    assert "planned end" in result.stdout


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_plan_is_reported_at_its_line_and_field(path: Path) -> None:
    header = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    match = EXPECT.match(header)
    assert match, f"{path.name}: first line must be '# expect: LINE:COL: FIELD: MESSAGE'"
    line, col, field, needle = int(match[1]), int(match[2]), match[3], match[4]
    with pytest.raises(PlanInvalid) as exc:
        load_plan(path)
    found = [(p.line, p.column, format_path(p.path), p.message) for p in exc.value.problems]
    assert any((ln, cl, fp) == (line, col, field) and needle in msg for ln, cl, fp, msg in found), (
        f"{path.name}: expected {line}:{col} {field} '{needle}', got {found}"
    )


def test_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 30


def test_cli_reports_problems_one_per_line_with_exit_2() -> None:
    result = run_cli("check", str(BROKEN[0]))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for line in result.stderr.strip().splitlines():
        assert re.match(r"^.+\.yaml:\d+:\d+: .+: .+", line), line


def test_unknown_key_suggests_the_right_one() -> None:
    text = SMALL.read_text().replace("    depends_on: [freeze]", "    dependson: [freeze]")
    with pytest.raises(PlanInvalid) as exc:
        load_plan_text(text, "p.yaml")
    problem = exc.value.problems[0]
    assert (
        "unknown key 'dependson'" in problem.message and "did you mean 'depends_on'" in problem.hint
    )
    assert str(problem).startswith("p.yaml:")


def test_secrets_must_be_references() -> None:
    base = SMALL.read_text()
    flows = """flows:
  - id: uploads
    title: Uploads
    system: wcf
    late_after: 10m
    old: {kind: sql, dsn: "Driver=x;Server=old;UID=sa;PWD=hunter2", query: "select 1"}
"""
    with pytest.raises(PlanInvalid) as exc:
        load_plan_text(base + flows, "p.yaml")
    assert any("secret" in p.message for p in exc.value.problems)
    assert "hunter2" not in str(exc.value)  # the error itself must not echo the secret
    ok = base + flows.replace('"Driver=x;Server=old;UID=sa;PWD=hunter2"', "env:OLD_DSN")
    assert load_plan_text(ok, "p.yaml").plan.flows[0].old is not None


def test_names_pattern_expands() -> None:
    assert expand_names("shop{001..003}.x.test") == [
        "shop001.x.test",
        "shop002.x.test",
        "shop003.x.test",
    ]
    assert len(expand_names("s{1..800}.x")) == 800


def test_plan_that_overruns_its_window_warns() -> None:
    text = SMALL.read_text().replace("end: 2026-12-06 22:00", "end: 2026-12-06 06:30")
    document = load_plan_text(text, "p.yaml")
    assert any("does not fit its window" in str(w) for w in document.warnings)


yaml_fragments = st.sampled_from(
    [
        "cutover:",
        "  id: x",
        "steps:",
        "  - id: a",
        "    depends_on: [a]",
        "people: []",
        "- ",
        ": :",
        "  window: {start: 2026-01-01 00:00}",
        "\t",
        "&a [*a]",
        "!!python/object:os.system",
        "duration: 15",
        "'",
        '"',
        "{",
        "[",
        "phases: [{id: p, title: P}]",
        "version: 2",
        "    owner: lead",
        "x: 1\nx: 2",
        "<<: *a",
        "---\n---",
        "\x00",
        "é: ü",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(yaml_fragments, max_size=12))
def test_fuzz_loader_never_crashes_on_fragments(parts: list[str]) -> None:
    try:
        load_plan_text("\n".join(parts), "fuzz.yaml")
    except PlanInvalid as exc:
        assert all(p.line >= 1 and p.column >= 1 for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_loader_on_mutated_valid_plan(data: st.DataObject) -> None:
    text = SMALL.read_text()
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "dup", "garble", "indent", "swap"]))
        if action == "delete":
            lines.pop(index)
        elif action == "dup":
            lines.insert(index, lines[index])
        elif action == "garble":
            lines[index] = data.draw(st.text(max_size=40))
        elif action == "indent":
            lines[index] = " " + lines[index]
        else:
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        if not lines:
            lines = [""]
    try:
        load_plan_text("\n".join(lines), "fuzz.yaml")
    except PlanInvalid as exc:
        for problem in exc.problems:
            assert problem.line >= 1 and str(problem).startswith("fuzz.yaml:")


def _passes_order(steps: list[tuple[str, list[str]]]) -> list[str]:
    """The reference order: repeated passes over the file, each taking every step whose
    dependencies are taken (what topological_order computed, quadratically, before issue 14)."""
    ids = [s for s, _ in steps]
    deps = {s: [d for d in ds if d in ids] for s, ds in steps}
    done: list[str] = []
    while len(done) < len(ids):
        ready = False
        for step_id in ids:
            if step_id not in done and all(d in done for d in deps[step_id]):
                done.append(step_id)
                ready = True
        if not ready:
            return done + [i for i in ids if i not in done]
    return done


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_topological_order_is_the_file_order_passes(data: st.DataObject) -> None:
    from types import SimpleNamespace

    from cutover_console.plan.schedule import topological_order

    n = data.draw(st.integers(1, 12))
    ids = data.draw(st.permutations([f"s{i}" for i in range(n)]))
    pool = st.sampled_from([*ids, "unknown"])
    steps = [(i, data.draw(st.lists(pool, max_size=3))) for i in ids]
    plan: Any = SimpleNamespace(steps=[SimpleNamespace(id=i, depends_on=d) for i, d in steps])
    assert topological_order(plan) == _passes_order(steps)
