"""The `cutover` command end to end, in subprocesses, as a script or a second terminal uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import SHIPPED, SMALL, run_cli

from cutover_console.journal import JournalReader
from cutover_console.runbook import load_state


def test_tabletop_walks_the_shipped_plan_through_the_rules(tmp_path: Path) -> None:
    journal = tmp_path / "tt.sqlite"
    result = run_cli("tabletop", str(SHIPPED), "--journal", str(journal))
    assert result.returncode == 0, result.stderr
    assert "43/43 steps done" in result.stdout and "chain intact" in result.stdout
    with JournalReader(journal) as reader:
        state = load_state(reader)
    assert state.mode == "tabletop" and state.rehearsal
    assert all(s.status == "done" for s in state.steps.values())
    ponr = state.plan.step("open-new-writes")
    assert ponr.point_of_no_return and state.point_of_no_return_at is not None
    # every gate it could not evidence is an explicit, reasoned override by the lead
    assert state.overrides and all("tabletop" in o.reason for o in state.overrides)
    summary = json.loads(run_cli("status", "-j", str(journal), "--json").stdout)
    # shown in the client's zone: open-new-writes ended Sun 11:05 Chicago (17:05 UTC)
    assert summary["point_of_no_return"]["passed_at"] == "2026-12-06T11:05:00-06:00"
    go = state.steps["saturday-go"]
    roles = {s.role for s in go.signoffs}
    assert roles == {"lead", "rollback-approver"}  # each_role honoured


def test_script_flow_init_step_signoff_status(tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    assert run_cli("init", str(SMALL), "--journal", j).returncode == 0
    assert run_cli("init", str(SMALL), "--journal", j).returncode == 2  # never overwrites
    refused = run_cli("step", "start", "backup", "-j", j, "--by", "dmitri")
    assert refused.returncode == 1 and "waits for 'freeze'" in refused.stderr
    for args in (["step", "start", "freeze"], ["step", "done", "freeze"]):
        assert run_cli(*args, "-j", j, "--by", "omar").returncode == 0
    assert run_cli("step", "start", "backup", "-j", j, "--by", "dmitri").returncode == 0
    bad_role = run_cli("signoff", "backup", "-j", j, "--by", "cleo")
    assert bad_role.returncode == 1 and "cannot sign" in bad_role.stderr
    skip = run_cli("step", "skip", "announce", "-j", j, "--by", "lena")
    assert skip.returncode == 1 and "needs a reason" in skip.stderr
    # retried with the same key: recorded once
    for _ in range(2):
        ok = run_cli("note", "bridge open", "-j", j, "--by", "lena", "--idempotency-key", "k1")
        assert ok.returncode == 0
    status = run_cli("status", "-j", j, "--json")
    summary = json.loads(status.stdout)
    assert summary["progress"]["finished"] == 1
    assert summary["progress"]["in_progress"] == ["backup"]
    backup = next(s for s in summary["steps"] if s["id"] == "backup")
    assert backup["blockers"] == ["needs 2 distinct sign-offs by dba or lead; has 0 (none)"]
    events = run_cli("events", "-j", j, "--jsonl").stdout.splitlines()
    assert sum(1 for e in events if json.loads(e)["kind"] == "note.added") == 1
    human = run_cli("status", "-j", j)
    assert human.returncode == 0 and "rollback still possible until" in human.stdout
    head = summary["head"]
    assert run_cli("verify", j, "--expect-head", f"{head['seq']}:{head['hash']}").returncode == 0


def test_unknown_person_and_step_are_clear(tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    run_cli("init", str(SMALL), "--journal", j)
    who = run_cli("step", "start", "freeze", "-j", j, "--by", "mallory")
    assert who.returncode == 1 and "not a person in this plan" in who.stderr
    what = run_cli("step", "start", "frieze", "-j", j, "--by", "omar")
    assert what.returncode == 1 and "no step 'frieze'" in what.stderr
    missing = run_cli("status", "-j", str(tmp_path / "nope.sqlite"))
    assert missing.returncode == 2 and "no such journal" in missing.stderr
    for result in (who, what, missing):
        assert "Traceback" not in result.stderr


def test_revise_records_a_changed_plan(tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    run_cli("init", str(SMALL), "--journal", j)
    same = run_cli("revise", str(SMALL), "-j", j, "--by", "lena", "--reason", "none")
    assert "unchanged" in same.stdout
    edited = tmp_path / "small.yaml"
    edited.write_text(SMALL.read_text().replace("duration: 45m", "duration: 1h"))
    changed = run_cli("revise", str(edited), "-j", j, "--by", "lena", "--reason", "longer tests")
    assert changed.returncode == 0 and "plan revised" in changed.stdout
    kinds = [
        json.loads(x)["kind"] for x in run_cli("events", "-j", j, "--jsonl").stdout.splitlines()
    ]
    assert kinds == ["journal.created", "plan.revised"]


def test_report_lists_every_deviation_with_its_reason(tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    run_cli("init", str(SMALL), "--journal", j)
    steps = [
        ("start", "freeze", "omar", None),
        ("fail", "freeze", "omar", "disk full"),
        ("reopen", "freeze", "lena", "disk cleaned"),
        ("start", "freeze", "omar", None),
        ("done", "freeze", "omar", None),
        ("skip", "backup", "dmitri", "taken on Friday"),
    ]
    for verb, step, who, reason in steps:
        extra = ["--reason", reason] if reason else []
        assert run_cli("step", verb, step, "-j", j, "--by", who, *extra).returncode == 0
    out = tmp_path / "r.md"
    assert run_cli("report", "-j", j, "-o", str(out)).returncode == 0
    text = out.read_text()
    deviations = text.split("## Deviations")[1].split("## DNS")[0]
    for expected in (
        "| freeze | failed | omar |",
        "disk full",
        "| freeze | re-opened | lena |",
        "disk cleaned",
        "| backup | skipped | dmitri |",
        "taken on Friday",
    ):
        assert expected in deviations, expected


def test_every_command_is_found_where_the_lazy_map_says() -> None:
    """`cutover` imports a command's module only when it runs: the map must name every command
    the modules define, each in the module that defines it."""
    import importlib
    import pkgutil

    import cutover_console.cli as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    assert set(package.cli.commands) == set(package.COMMANDS)
    for name, module in package.COMMANDS.items():
        group = package.cli.commands[name]
        where = group.callback.__module__ if group.callback else ""
        assert where == f"{package.__name__}.{module}", name


def test_a_script_note_to_the_service_loads_no_plan_rules_or_asyncio(tmp_path: Path) -> None:
    """What keeps a script's `cutover note` quick while the console runs: with a journal
    service, the CLI sends one request and imports neither the plan model (pydantic), the rules,
    the store nor asyncio. Without one it writes directly, and loads them then."""
    import subprocess
    import sys

    from cutover_console.service import process

    journal = tmp_path / "j.sqlite"
    assert run_cli("init", str(SMALL), "-j", str(journal), "--by", "lena").returncode == 0
    HEAVY = (
        "pydantic",
        "cutover_console.plan.model",
        "cutover_console.runbook",
        "cutover_console.journal.store",
        "asyncio",
        "sqlite3",
    )
    probe = (
        "import sys\n"
        "from cutover_console.cli import cli\n"
        "try:\n"
        f"    cli.main(['note', 'quick', '-j', {str(journal)!r}, '--by', 'lena'])\n"
        "except SystemExit as e:\n"
        f"    heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "    print('EXIT', e.code, 'HEAVY', heavy)\n"
    )

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
        )
        return done.stdout + done.stderr

    direct = run()  # no service: written here, with the rules
    assert "EXIT 0" in direct and "'cutover_console.runbook'" in direct, direct
    process.start(journal, engines=False)
    try:
        via_service = run()
        assert "journaled as event 3" in via_service, via_service
        assert "EXIT 0 HEAVY []" in via_service, via_service
    finally:
        process.stop(journal)


def test_json_output_stays_json_whatever_a_library_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `--json` command's stdout is its JSON alone: a library that prints to stdout while the
    command runs is sent to stderr instead."""
    from click.testing import CliRunner

    from cutover_console.cli import cli, plan_cmds

    real = plan_cmds.load_plan

    def noisy(path: Path) -> object:
        print("a library talking on stdout")
        return real(path)

    monkeypatch.setattr(plan_cmds, "load_plan", noisy)
    result = CliRunner().invoke(cli, ["check", str(SMALL), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] > 0
    assert "a library talking on stdout" in result.stderr
    plain = CliRunner().invoke(cli, ["check", str(SMALL)])
    assert "a library talking on stdout" in plain.stdout  # only --json reroutes it
