"""Shared helpers for the benchmark scripts: medians, realistic journals, Markdown rows."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checklists" / "collision-bi-weekend.yaml"


def median_time(fn: Callable[[], object], runs: int = 5) -> tuple[float, list[float]]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples


def build_journal(path: Path, events: int, seed: int = 7) -> None:
    """A journal on the shipped plan with a realistic mix: gate evidence, notes, step lifecycles.

    Generation turns fsync off on its own connection (the product never does): this builds the
    fixture, it is not what is measured."""
    document = load_plan(SHIPPED)
    plan = document.plan
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("dana-whitfield", "bench"),
        cutover_id=plan.cutover.id,
    )
    writer.conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(seed)
    gated = [(s.id, g.id) for s in plan.steps for g in s.gates]
    steps = [s.id for s in plan.steps]
    people = [p.id for p in plan.people]
    for i in range(events - 1):
        roll = rng.random()
        if roll < 0.6:
            step_id, gate_id = rng.choice(gated)
            writer.append(
                "gate.evaluated",
                {
                    "gate": gate_id,
                    "ok": rng.random() < 0.5,
                    "detail": f"{rng.randint(0, 100)} % new",
                    "evidence": {"sample": i},
                },
                actor=Actor("engine:dns", "bench"),
                step=step_id,
            )
        elif roll < 0.9:
            writer.append(
                "note.added",
                {"text": f"bridge note {i}"},
                actor=Actor(rng.choice(people), "bench"),
                step=rng.choice(steps),
            )
        else:
            kind = rng.choice(
                ["step.started", "step.completed", "step.reopened", "step.signed_off"]
            )
            payload = (
                {"reason": "bench"}
                if kind == "step.reopened"
                else ({"role": "lead", "evidence": {}} if kind == "step.signed_off" else {})
            )
            writer.append(
                kind, payload, actor=Actor(rng.choice(people), "bench"), step=rng.choice(steps)
            )
    writer.close()
