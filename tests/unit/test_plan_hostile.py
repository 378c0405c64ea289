"""Hostile plans (issue 12): each is refused at FILE:LINE:COL with exit 2, in bounded time and
memory, never with a traceback; big valid plans are checked in linear time.

The heavy cases run the real `cutover check` in a subprocess under an address-space limit and a
timeout, so that a regression fails its test instead of eating the machine. Big inputs are
generated here at run time; tests/plans/hostile/ holds the small ones, each headed by
`# expect: LINE:COL: FIELD: MESSAGE` like the broken-plan corpus.
"""

from __future__ import annotations

import os
import re
import resource
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PLANS, SMALL

from cutover_console.plan import PlanInvalid, load_plan, load_plan_text, loader, yaml_source
from cutover_console.plan.model import MAX_NAMES, count_names, expand_names
from cutover_console.plan.problems import MAX_REPORTED
from cutover_console.plan.schedule import planned, topological_order

HOSTILE = sorted((PLANS / "hostile").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): ([^:]+): (.+)$")
MEMORY = 1 << 30  # address space for one `cutover check`; the product promises < 500 MB RSS
PROMISE_S = 10.0  # no input keeps `cutover check` from answering longer than this
BASE = SMALL.read_text(encoding="utf-8")


@dataclass
class Checked:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def check(*args: str | Path, timeout: float = 30.0) -> Checked:
    """The real `cutover check ARGS`, limited to MEMORY of address space and `timeout` seconds."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "cutover_console", "check", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limits,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"cutover check {args} ran past {timeout} s")
    return Checked(process.returncode, out, err, time.perf_counter() - start)


def assert_refused(result: Checked, file: str | Path, line: int, *needles: str) -> str:
    """Exit 2, no traceback, in time, and a `FILE:LINE:` line naming every needle."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.seconds < PROMISE_S, f"took {result.seconds:.1f} s"
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(f"{file}:{line}:")]
    found = [ln for ln in lines if all(n in ln for n in needles)]
    assert found, f"no {file}:{line}: line with {needles}; got {result.stderr[:3000]}"
    return found[0]


def with_title(title: str) -> str:
    """The small plan with the first step's title replaced by `title` (YAML text)."""
    return BASE.replace("    title: Freeze deployments", f"    title: {title}", 1)


def title_line() -> int:
    return BASE.splitlines().index("    title: Freeze deployments") + 1


# --- the corpus -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_plan_is_refused_where_it_is_wrong(path: Path) -> None:
    header = path.read_bytes().split(b"\n", 1)[0].decode()
    match = EXPECT.match(header)
    assert match, f"{path.name}: first line must be '# expect: LINE:COL: FIELD: MESSAGE'"
    line, col, field, needle = int(match[1]), int(match[2]), match[3], match[4]
    result = check(path)
    found = assert_refused(result, path, line, needle)
    assert found.startswith(f"{path}:{line}:{col}: {field}: "), found


def test_hostile_corpus_covers_the_issue() -> None:
    names = " ".join(p.stem for p in HOSTILE)
    for kind in ("tag-python-apply-on-list", "billion-laughs", "names-three-ranges", "not-utf8"):
        assert kind in names


# --- what is read -----------------------------------------------------------------------------


def test_plan_over_10_mb_is_refused_stating_the_cap(tmp_path: Path) -> None:
    plan = tmp_path / "big.yaml"
    # valid but for its size: a description of 11 MB
    body = ("    " + "x" * 95 + "\n") * (11_000_000 // 100)
    plan.write_text(BASE.replace("  timezone:", f"  description: |\n{body}  timezone:", 1))
    assert_refused(check(plan), plan, 1, "larger than 10 MB", str(loader.MAX_PLAN_BYTES))


def test_plan_just_under_the_cap_is_checked_quickly(tmp_path: Path) -> None:
    plan = tmp_path / "nine.yaml"
    body = ("    " + "x" * 95 + "\n") * (9_500_000 // 100)
    plan.write_text(BASE.replace("  timezone:", f"  description: |\n{body}  timezone:", 1))
    result = check(plan)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.seconds < PROMISE_S / 2


def test_reading_stops_one_byte_past_the_cap(tmp_path: Path, monkeypatch: Any) -> None:
    plan = tmp_path / "sparse.yaml"
    with plan.open("wb") as f:
        f.truncate(50_000_000)  # sparse: 50 MB of NULs on no disk
    read = 0
    real_read = os.read

    def counting(fd: int, n: int) -> bytes:
        nonlocal read
        chunk = real_read(fd, n)
        read += len(chunk)
        return chunk

    monkeypatch.setattr(loader.os, "read", counting)
    with pytest.raises(PlanInvalid) as exc:
        load_plan(plan)
    assert "larger than 10 MB" in str(exc.value)
    assert read <= loader.MAX_PLAN_BYTES + 1


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_unread() -> None:
    assert_refused(check("/dev/zero", timeout=15), "/dev/zero", 1, "character device")


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert_refused(check(fifo, timeout=15), fifo, 1, "pipe (FIFO)")


def test_directory_and_missing_file_are_named(tmp_path: Path) -> None:
    assert_refused(check(tmp_path), tmp_path, 1, "it is a directory")
    missing = tmp_path / "nope.yaml"
    assert_refused(check(missing), missing, 1, "cannot read the plan", "No such file")


def test_very_long_line_is_refused_at_its_line(tmp_path: Path) -> None:
    plan = tmp_path / "long.yaml"
    plan.write_text(with_title("x" * 50_000))
    found = assert_refused(check(plan), plan, title_line(), "characters long", "at most 10000")
    assert len(found) < 400  # the line itself is not echoed


def test_deep_nesting_on_one_long_line_is_named_before_the_line(tmp_path: Path) -> None:
    for deep in ("[" * 10_000 + "]" * 10_000, "{a: " * 10_000 + "1" + "}" * 10_000):
        plan = tmp_path / "deep-line.yaml"
        plan.write_text(with_title(deep))
        result = check(plan)
        first = result.stderr.splitlines()[0]
        assert first.startswith(f"{plan}:{title_line()}:"), first
        assert "steps[0].title" in first and "nested more than 64 levels deep" in first
        assert_refused(result, plan, title_line(), "characters long")


def test_overlong_numbers_are_refused_not_converted(tmp_path: Path) -> None:
    """int() refuses >4300 digits (a traceback before) and base-60 `1:2:3…` is quadratic."""
    for text in ("9" * 9_000, "1" + ":1" * 4_400, "1" + "_0" * 4_000 + ".5"):
        plan = tmp_path / "number.yaml"
        plan.write_text(with_title(text))
        assert_refused(check(plan), plan, title_line(), "steps[0].title", "characters long")


# --- nesting ----------------------------------------------------------------------------------


def nested(kind: str, levels: int, indent: int) -> str:
    """YAML text nesting `levels` lists or mappings, one level a line (lines stay short)."""
    pad = " " * indent
    if kind == "flow-list":
        return "\n" + f"{pad}[\n" * levels + f"{pad}1\n" + f"{pad}]\n" * levels
    if kind == "flow-map":
        return "\n" + f"{pad}{{a:\n" * levels + f"{pad}1\n" + f"{pad}}}\n" * levels
    step = 2
    if kind == "block-list":
        return "\n" + "".join(" " * (indent + step * i) + "-\n" for i in range(levels))
    return "\n" + "".join(" " * (indent + step * i) + "k:\n" for i in range(levels))


FIELDS = {  # where the nesting goes: text replaced, what replaces it, indent, the field's path
    "a step's title": ("    title: Freeze deployments\n", "    title:", 6, "steps[0].title"),
    "the cutover's name": ("  name: Small test cutover\n", "  name:", 4, "cutover.name"),
    "an unknown key": ("version: 1\n", "version: 1\nextra:", 2, "extra"),
    "a DNS record": (
        "    - {name: upload.small.test, type: A, old: [198.51.100.10], new: [203.0.113.20], "
        "ttl: 300}\n",
        "    - type: A\n      new: [203.0.113.20]\n      name:",
        8,
        "dns.records[0].name",
    ),
}


@pytest.mark.parametrize("levels", [100, 10_000])
@pytest.mark.parametrize("kind", ["flow-list", "flow-map", "block-list", "block-map"])
@pytest.mark.parametrize("where", list(FIELDS))
def test_deep_nesting_is_refused_in_any_field(where: str, kind: str, levels: int) -> None:
    old, new, indent, field = FIELDS[where]
    if kind.startswith("block"):
        levels = min(levels, 2_000)  # two columns of indentation a level: 2,000 stay under 10 MB
    assert old in BASE
    text = BASE.replace(old, new + nested(kind, levels, indent), 1)
    with pytest.raises(PlanInvalid) as exc:
        load_plan_text(text, "deep.yaml")
    problem = exc.value.problems[0]
    # caught while composing, before the (recursive) builder: no "once aliases are expanded"
    assert problem.message == "nested more than 64 levels deep", str(problem)
    assert f"at most {yaml_source.MAX_DEPTH}" in problem.hint
    assert str(problem).startswith("deep.yaml:") and str(problem).split(": ")[1].startswith(field)
    opened = text.splitlines().index(new.splitlines()[-1]) + 1
    assert opened < problem.line <= opened + yaml_source.MAX_DEPTH + 1


def test_deep_nesting_through_the_cli_and_the_pure_python_parser(
    tmp_path: Path, monkeypatch: Any
) -> None:
    text = BASE.replace(
        "    title: Freeze deployments\n", "    title:" + nested("flow-list", 10_000, 6), 1
    )
    with pytest.raises(PlanInvalid) as exc:
        load_plan_text(text, "deep.yaml")
    line = exc.value.problems[0].line
    plan = tmp_path / "deep.yaml"
    plan.write_text(text)
    assert_refused(check(plan), plan, line, "steps[0].title[0]", "at most 64")
    # without libyaml PyYAML's own parser is used: its event loop is guarded the same way
    monkeypatch.setattr(yaml_source, "_Loader", yaml.SafeLoader)
    monkeypatch.setattr(yaml_source, "_LIBYAML", False)
    with pytest.raises(PlanInvalid) as exc:
        load_plan_text(text, "deep.yaml")
    assert exc.value.problems[0].line == line
    for path in HOSTILE:  # and the corpus reads the same
        header = EXPECT.match(path.read_bytes().split(b"\n", 1)[0].decode())
        assert header
        with pytest.raises(PlanInvalid) as exc:
            load_plan(path)
        where = (int(header[1]), int(header[2]))
        assert any((p.line, p.column) == where for p in exc.value.problems), path.name


def test_libyaml_nesting_cap_reads_as_ours() -> None:
    """libyaml stops at 1,000 levels on one line, before we see a node: same message, path kept."""
    text = with_title("[" * 2_000 + "]" * 2_000)
    with pytest.raises(PlanInvalid) as exc:
        load_plan_text(text, "deep.yaml")
    problem = exc.value.problems[0]
    assert "nested more than 64 levels deep" in problem.message
    assert problem.line == title_line() and problem.path[:3] == ("steps", 0, "title")


def test_too_many_values_are_refused_while_composing(tmp_path: Path) -> None:
    """600,000 scalars in 3 MB: refused as they are read, not after building them."""
    plan = tmp_path / "wide.yaml"
    plan.write_text("wide: [\n" + "  u,\n" * 600_000 + "]\n" + BASE)
    # the root mapping, the key and the list are the first three values
    line = 1 + yaml_source.MAX_NODES - 2
    assert_refused(check(plan), plan, line, "wide[", "the plan has too many values", "500000")


# --- names ------------------------------------------------------------------------------------


def test_names_are_counted_without_expanding() -> None:
    assert count_names("shop{001..240}.x.test") == 240
    assert count_names("a{1..1000}b{1..1000}c{1..1000}") == 10**9
    assert count_names("x{5..1}") == 0
    assert count_names("x{1.." + "9" * 5_000 + "}") > MAX_NAMES  # no int() of 5,000 digits
    assert count_names("x{" + "1" * 19 + ".." + "2" * 19 + "}") > MAX_NAMES
    assert expand_names("s{1..2}-{01..02}") == ["s1-01", "s1-02", "s2-01", "s2-02"]
    with pytest.raises(ValueError, match="expands to 1,000,000,000 names"):
        expand_names("a{1..1000}b{1..1000}c{1..1000}")


# --- linear checks ----------------------------------------------------------------------------

CHAIN_HEAD = """version: 1
cutover:
  id: chain
  name: Chain
  client: Bench
  timezone: America/Chicago
  window: {start: "2026-12-05 06:00", end: "2027-12-06 22:00"}
people:
  - {id: lena, name: Lena, roles: [lead]}
phases:
  - {id: p, title: P}
steps:
"""


def chain(n: int, *, backwards: bool = False, extra: str = "") -> str:
    """n steps, each depending on the one before (or, backwards, on the one after it in the file:
    the worst order for a pass-per-level sort and a recursive search)."""
    lines = [CHAIN_HEAD]
    for i in range(n):
        dep = i + 1 if backwards else i - 1
        deps = f", depends_on: [s{dep}]" if 0 <= dep < n else ""
        lines.append(
            f"  - {{id: s{i}, title: Step {i}, phase: p, owner: lead, duration: 1m{deps}{extra}}}\n"
        )
    return "".join(lines)


@pytest.mark.parametrize("backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("flag", [None, "--json"])
def test_10000_step_chain_is_checked_in_3_s(
    tmp_path: Path, backwards: bool, flag: str | None
) -> None:
    plan = tmp_path / "chain.yaml"
    plan.write_text(chain(10_000, backwards=backwards))
    result = check(*([flag] if flag else []), plan)
    if result.seconds > 3.0:  # one retry: the machine may be busy with other tests
        result = check(*([flag] if flag else []), plan)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    # the issue's 3 s target is measured in benchmarks/check_plan.py; here, the bound that a
    # quadratic check (27 s before) cannot meet on any machine
    assert result.seconds < PROMISE_S, f"{result.seconds:.2f} s"


def test_10000_step_chain_schedule_in_3_s(tmp_path: Path) -> None:
    plan = tmp_path / "chain.yaml"
    plan.write_text(chain(10_000, backwards=True))
    result = check("--schedule", plan)
    assert result.returncode == 0, result.stderr[-2000:]
    # the issue's 3 s target is measured in benchmarks/check_plan.py; here, the bound that a
    # quadratic check (27 s before) cannot meet on any machine
    assert result.seconds < PROMISE_S, f"{result.seconds:.2f} s"


def test_schedule_layer_is_linear() -> None:
    """What `check --schedule` asks of the plan layer: the order, the path, every step by id."""
    plan = load_plan_text(chain(10_000, backwards=True), "chain.yaml").plan

    def timed(fn: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        return fn(), time.perf_counter() - start

    order, sorting = timed(lambda: topological_order(plan))
    schedule = planned(plan)
    path, tracing = timed(schedule.critical_path)
    total, lookups = timed(lambda: sum(plan.step(i).duration.total_seconds() for i in path))
    assert order[0] == "s9999" and path[-1] == "s0" and total == 10_000 * 60
    # linear is ~10 ms each; a scan per step was 0.5 s to minutes
    timings = f"order {sorting:.3f} s, critical path {tracing:.3f} s, lookups {lookups:.3f} s"
    assert sorting < 0.5 and tracing < 0.25 and lookups < 0.25, timings


def test_long_cycle_is_named_briefly(tmp_path: Path) -> None:
    """A 10,000-step ring: found without recursion, named in one short line."""
    text = chain(10_000, backwards=True).replace("duration: 1m}", "duration: 1m, depends_on: [s0]}")
    plan = tmp_path / "ring.yaml"
    plan.write_text(text)
    first_step = CHAIN_HEAD.count("\n") + 1
    result = check(plan)
    found = assert_refused(result, plan, first_step, "dependency cycle: s0 → s1 →", "more)")
    assert len(found) < 600 and len(result.stderr.splitlines()) == 1


def test_unknown_references_in_thousands_of_steps_stay_quick(tmp_path: Path) -> None:
    """did-you-mean compares with every candidate: 10,000 misses among 10,000 steps took
    minutes; past a budget, hints fall back to their generic text."""
    plan = tmp_path / "unknown.yaml"
    plan.write_text(chain(10_000).replace("depends_on: [s", "depends_on: [s-"))
    result = check(plan)
    line = CHAIN_HEAD.count("\n") + 2
    first = assert_refused(result, plan, line, "steps[1].depends_on[0]", "unknown step 's-0'")
    assert "did you mean 's0'?" in first
    lines = result.stderr.splitlines()
    assert len(lines) == MAX_REPORTED + 1 and "8999 more problems" in lines[-1]


def test_a_flood_of_problems_is_listed_short(tmp_path: Path) -> None:
    """240,000 duplicate keys: the first MAX_REPORTED, then a count, quickly."""
    plan = tmp_path / "dups.yaml"
    plan.write_text(BASE + "x: 1\n" * 240_001)
    result = check(plan)
    assert_refused(result, plan, BASE.count("\n") + 2, "duplicate key 'x'")
    lines = result.stderr.splitlines()
    assert len(lines) == MAX_REPORTED + 1 and "239000 more problems" in lines[-1]


def test_signoff_among_thousands_of_people_stays_quick(tmp_path: Path) -> None:
    people = "".join(f"  - {{id: p{i}, name: P {i}, roles: [lead, dba]}}\n" for i in range(5_000))
    text = chain(10_000, extra=", signoff: {roles: [dba, lead], count: 2}").replace(
        "people:\n", "people:\n" + people, 1
    )
    plan = tmp_path / "people.yaml"
    plan.write_text(text)
    result = check(plan)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.seconds < PROMISE_S


# --- tags, aliases, and a fuzz ----------------------------------------------------------------


def test_core_schema_tags_are_still_read() -> None:
    text = (
        BASE.replace("    title: Freeze deployments", "    title: !!str 2026")
        .replace("    depends_on: [freeze]", "    depends_on: !!seq [freeze]")
        .replace("    point_of_no_return: true", "    point_of_no_return: !!bool true")
        .replace("{roles: [dba, lead], count: 2}", "!!map {roles: [dba, lead], count: !!int 2}")
    )
    plan = load_plan_text(text, "tags.yaml").plan
    assert plan.steps[0].title == "2026" and plan.step("backup").depends_on == ["freeze"]


def test_merge_keys_and_aliases_still_work() -> None:
    text = BASE.replace(
        "  - id: freeze\n    title: Freeze deployments\n",
        "  - &base\n    id: freeze\n    title: Freeze deployments\n",
    ).replace(
        "  - id: backup\n    title: Full backup of the old database\n",
        "  - <<: *base\n    id: backup\n",
    )
    plan = load_plan_text(text, "merge.yaml").plan
    assert plan.step("backup").title == "Freeze deployments"


SCALARS = ["1", "x", "'q'", "*a", "!!python/name:os.system x", "!foo y", "!!int 12", "!!bool x"]
TAGS = ["", "!!python/object/apply:os.system ", "!!map ", "!!seq ", "!x ", "&a ", "&b !!set "]


def _tree(draw: Any, depth: int) -> str:
    if depth <= 0 or draw(st.booleans()):
        return draw(st.sampled_from(SCALARS))
    tag = draw(st.sampled_from(TAGS))
    items = [_tree(draw, depth - 1) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        return f"{tag}[{', '.join(items)}]"
    return tag + "{" + ", ".join(f"k{i}: {v}" for i, v in enumerate(items)) + "}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_tags_anchors_and_nesting_never_crash(data: st.DataObject) -> None:
    tree = _tree(data.draw, data.draw(st.integers(1, 80)))
    text = with_title(tree) if data.draw(st.booleans()) else f"x: &a {tree}\ny: {tree}\n"
    try:
        load_plan_text(text, "fuzz.yaml")
    except PlanInvalid as exc:
        assert all(p.line >= 1 and p.column >= 1 for p in exc.problems)
