"""What the console and `cutover status` say, checked without a screen (issue 15): one timestamp
module, the rollback deadline's warnings, why no resolver answers, Route 53 results in words,
the command printed the way `cutover` was run, the settings file's location, `status` at 80
columns and on a sped-up rehearsal's clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import SMALL, run_cli

from cutover_console import timestamps
from cutover_console.clock import ManualClock, ScaledClock
from cutover_console.invocation import cutover_command
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover
from cutover_console.runbook.step_action import describe_result
from cutover_console.settings import settings_path
from cutover_console.ui.model import CutoverView, cutover_view
from cutover_console.ui.views.clock_bar import rollback_deadline
from cutover_console.ui.views.dns import flag_codes, nobody_answers

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_one_timestamp_module_reads_z_and_offsets() -> None:
    assert timestamps.parse_iso("2026-12-06T12:00:00Z") == NOW
    assert timestamps.parse_iso("2026-12-06T06:00:00-06:00") == NOW
    assert timestamps.parse_iso("2026-12-06T12:00:00") == NOW  # naive: UTC
    assert timestamps.parse_ts(timestamps.format_ts(NOW)) == NOW
    chicago = load_plan(SMALL).plan.zone
    assert timestamps.day_time("2026-12-06T12:00:00Z", chicago) == "Sun 06:00"
    assert timestamps.clock_time(NOW, chicago) == "06:00:00"
    assert timestamps.ago("2026-12-06T11:56:40Z", NOW) == "3m20s ago"
    assert timestamps.countdown(NOW + timedelta(minutes=4), NOW, chicago) == "06:04:00 (in 4m)"
    assert timestamps.countdown(NOW - timedelta(minutes=4), NOW, chicago) == "05:56:00 (due)"
    package = Path(timestamps.__file__).parent
    calls = [
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if '.replace("Z", "+00:00")' in p.read_text()
    ]
    assert calls == []


def ponr(until: datetime | None, passed: datetime | None = None) -> CutoverView:
    return cutover_view(
        {
            "forecast_end": None,
            "fits_window": True,
            "point_of_no_return": {
                "step": "freeze-old",
                "passed_at": passed.isoformat() if passed else None,
                "rollback_possible_until": until.isoformat() if until else None,
            },
            "steps": [],
        }
    )


def test_rollback_deadline_warns_at_15_and_5_minutes_and_when_passed() -> None:
    calm, style = rollback_deadline(ponr(NOW + timedelta(minutes=40)), NOW)
    assert "rollback still possible until" in calm and "red" not in style
    soon, style = rollback_deadline(ponr(NOW + timedelta(minutes=14)), NOW)
    assert "rollback possible for 14m" in soon and "yellow" in style
    last, style = rollback_deadline(ponr(NOW + timedelta(minutes=4)), NOW)
    assert "ROLLBACK POSSIBLE FOR 4m ONLY" in last and "on yellow" in style
    late, style = rollback_deadline(ponr(NOW - timedelta(seconds=30)), NOW)
    assert "ROLLBACK DEADLINE" in late and "PASSED 30s ago" in late and "on red" in style
    assert "until freeze-old completes" in late
    gone, style = rollback_deadline(ponr(None, passed=NOW - timedelta(hours=1)), NOW)
    assert "POINT OF NO RETURN PASSED" in gone and "on red" in style


def test_why_no_resolver_answers_in_words() -> None:
    assert nobody_answers(["new", "nxdomain"]) == ""
    said = nobody_answers(["nxdomain"] * 31)
    assert "31 NXDOMAIN" in said and "no internet" in said
    assert "2 no answer (timeout)" in nobody_answers(["timeout", "timeout", "servfail"])
    assert flag_codes(["ttl-not-decreasing", "ttl-above-zone"]) == "TND TAZ"


def test_a_route53_change_is_told_by_its_change_id_and_records() -> None:
    result = {
        "kind": "route53.switch",
        "status": "INSYNC",
        "change_id": "/change/C123",
        "duration_s": 4.2,
        "exit": 0,
        "changes": [
            {
                "name": "upload.example.test.",
                "type": "A",
                "after": ["203.0.113.20"],
                "after_ttl": 60,
            }
        ],
    }
    said = describe_result(result)
    assert said.startswith("Route 53 change /change/C123 INSYNC after 4.2 s; 1 record changed")
    assert "upload.example.test. A → 203.0.113.20 (TTL 60)" in said and "exit" not in said
    failed = describe_result({**result, "status": "failed", "error": "AccessDenied"})
    assert "failed" in failed and "AccessDenied" in failed
    assert describe_result({"exit": 0, "duration_s": 0.1}) == "exit 0 in 0.1 s"


def test_the_command_is_printed_the_way_it_was_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    script = tmp_path / ".venv" / "bin" / "cutover"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cutover_command(".venv/bin/cutover") == ".venv/bin/cutover"
    assert cutover_command(str(script)) == ".venv/bin/cutover"
    monkeypatch.setenv("PATH", str(script.parent))
    assert cutover_command(str(script)) == "cutover"  # on the PATH: the short name
    assert cutover_command("/somewhere/cutover_console/__main__.py").endswith("-m cutover_console")


def test_settings_file_location() -> None:
    assert settings_path({"HOME": "/home/dana"}) == Path(
        "/home/dana/.config/cutover-console/config.toml"
    )
    assert settings_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path(
        "/x/cutover-console/config.toml"
    )
    assert settings_path({"HOME": "/h", "CUTOVER_CONFIG": "/etc/c.toml"}) == Path("/etc/c.toml")


def long_ids_journal(path: Path, *, world: bool) -> None:
    text = SMALL.read_text().replace("id: verify-new", "id: rehearsal-signoff-verification")
    text = text.replace("[verify-new]", "[rehearsal-signoff-verification]")
    plan = path.parent / "long.yaml"
    plan.write_text(text)
    document = load_plan(plan)
    start = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    # a sped-up world (what `cutover demo` runs) records its clock in the journal
    clock: ManualClock | ScaledClock = ScaledClock(start, 60) if world else ManualClock(start)
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "ops"),
        cutover_id="small-cutover",
        mode="rehearsal" if world else "live",
        clock=clock,
    )
    Cutover(writer, clock).start("freeze", "omar")
    writer.close()


def test_status_never_breaks_a_step_id_at_80_columns(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    long_ids_journal(journal, world=False)
    shown = run_cli("status", "-j", str(journal), env={"COLUMNS": "80"})
    assert shown.returncode == 0, shown.stderr
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    assert "rehearsal-signoff-verification" in shown.stdout  # whole, on one line
    assert "  rehearsal-signoff-verification — waits for 'dns-switch'" in shown.stdout


def test_status_of_a_sped_up_rehearsal_uses_the_worlds_clock(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    long_ids_journal(journal, world=True)
    shown = run_cli("status", "-j", str(journal), "--json")
    assert shown.returncode == 0, shown.stderr
    now = timestamps.parse_iso(json.loads(shown.stdout)["now"])
    # the world started at Saturday 06:00 Chicago a moment ago: not today's real date
    assert abs(now - datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) < timedelta(minutes=30)


def test_version_and_shell_completion_as_the_readme_says() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "_CUTOVER_COMPLETE=bash_source cutover" in readme
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("cutover, version ")
    script = run_cli(env={"_CUTOVER_COMPLETE": "bash_source"})
    assert script.returncode == 0 and "complete -o nosort -F" in script.stdout
    words = run_cli(
        env={"_CUTOVER_COMPLETE": "bash_complete", "COMP_WORDS": "cutover st", "COMP_CWORD": "1"}
    )
    assert "status" in words.stdout and "step" in words.stdout
