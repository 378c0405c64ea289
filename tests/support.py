"""Helpers shared by tests (importable as `support`: tests/ is on sys.path via conftest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLANS = Path(__file__).resolve().parent / "plans"
SMALL = PLANS / "small.yaml"
SHIPPED = ROOT / "checklists" / "collision-bi-weekend.yaml"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_binary(name: str) -> str:
    """A binary the test needs: skip locally when absent, fail under CI (no silent skips)."""
    path = shutil.which(name)
    if path is None:
        if in_ci():
            pytest.fail(f"{name} is required under CI but is not installed")
        pytest.skip(f"{name} not installed")
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `cutover` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cutover_console", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def finish_step(cutover: Any, step_id: str, doer: str, reason: str) -> None:
    """Complete a running step through the rules: the lead overrides its gates (with `reason`),
    eligible distinct people sign off, the doer completes it."""
    from cutover_console.runbook.autopilot import choose_signers, lead_of

    plan = cutover.state.plan
    step = plan.step(step_id)
    lead = lead_of(plan).id
    for gate in step.gates:
        cutover.override_gate(step_id, gate.id, lead, reason)
    for person, role in choose_signers(plan, step, doer):
        cutover.signoff(step_id, person, role=role)
    cutover.complete(step_id, doer)
