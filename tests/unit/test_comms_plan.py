"""`cutover check` on the comms: section (issue 22): every new field's errors name FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import PLANS

from cutover_console.plan import PlanInvalid, load_plan

BASE = (PLANS / "comms.yaml").read_text()


def problems(tmp_path: Path, old: str, new: str) -> list[str]:
    assert old in BASE, old
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(PlanInvalid) as caught:
        load_plan(path)
    return [str(p) for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_comms_plan_is_valid() -> None:
    assert load_plan(PLANS / "comms.yaml").plan.comms is not None


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        (
            "channels: [env:COMMS_TEST_MAIL]",
            'channels: ["mailto://u:pw@mail.test"]',
            "channels[0]: a channel is written inline (a URL)",
        ),
        ('{{ trigger }}"', '{{ triger }}"', "unknown field 'triger'"),
        ("Checkpoint {{ checkpoint }}", "Checkpoint {{ chekpoint }}", "unknown field 'chekpoint'"),
        ("Checkpoint {{ checkpoint }}", "Checkpoint {{ checkpoint ", "does not parse"),
        ("audiences: [support], template", "audiences: [suport], template", "no audience 'suport'"),
        ("template: status}\n", "template: statsu}\n", "no template 'statsu'"),
        ("{id: failure, on: step_failed", "{id: failure, on: step_blew_up", "on"),
        ("{id: failure, on: step_failed", "{id: failure, every: 30s", "at least 1m"),
        ("{id: failure, on: step_failed", "{id: failure, on: step_done", "`step`"),
        ("  retries: 2", "  retries: 99", "retries"),
        ("  backoff: 1s", "  backof: 1s", "backof"),
        (
            "comms: {template: status, audiences: [client]}",
            "comms: {template: status, audiences: [clients]}",
            "no audience 'clients'",
        ),
        ("    kind: comms\n", "    kind: task\n", "`comms:` belongs to a step of `kind: comms`"),
    ],
)
def test_each_new_field_is_checked_with_its_position(
    tmp_path: Path, old: str, new: str, expect: str
) -> None:
    found = problems(tmp_path, old, new)
    assert any(expect in p for p in found), found
    first = next(p for p in found if expect in p)
    file, line, col, _ = first.split(":", 3)
    assert file.endswith("p.yaml") and int(line) > 1 and int(col) >= 1


def test_an_unknown_field_is_named_at_its_own_line_and_column(tmp_path: Path) -> None:
    found = problems(tmp_path, "Checkpoint {{ checkpoint }}", "Checkpoint {{ chekpoint }}")
    text = BASE.replace("Checkpoint {{ checkpoint }}", "Checkpoint {{ chekpoint }}")
    line = line_of(text, "chekpoint")
    col = text.splitlines()[line - 1].index("chekpoint") + 1
    assert any(p.startswith(f"{tmp_path / 'p.yaml'}:{line}:{col}:") for p in found), found
