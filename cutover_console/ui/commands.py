"""The lead's actions by name, for the command palette (a watcher's palette offers none)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.command import Hit, Hits, Provider


@dataclass(frozen=True)
class StepAction:
    name: str  # as in the command palette
    method: str  # the App action
    help: str


STEP_ACTIONS = (
    StepAction("Start step", "start_step", "Start the focused step"),
    StepAction("Complete step", "complete_step", "Complete the focused step (gates, sign-offs)"),
    StepAction("Fail step", "fail_step", "Mark the focused step failed, with a reason"),
    StepAction("Skip step", "skip_step", "Skip the focused step, with a reason"),
    StepAction("Re-open step", "reopen_step", "Re-open a finished step, with a reason"),
    StepAction("Sign off", "sign_off", "Sign off the focused step (pick the person)"),
    StepAction("Add note", "add_note", "Add a note to the focused step"),
    StepAction("Override gate", "override_gate", "Treat an unmet gate as met (lead, reason)"),
    StepAction("Run action", "run_action", "Preview, then run the step's automated action"),
    StepAction("Roll back step", "rollback_step", "Record that the step was rolled back"),
)


class ActionCommands(Provider):
    """The lead's actions, by name, in the command palette."""

    def _run(self, method: str) -> None:
        getattr(self.app, f"action_{method}")()

    async def search(self, query: str) -> Hits:
        if getattr(self.app, "read_only", True):
            return
        matcher = self.matcher(query)
        for action in STEP_ACTIONS:
            score = matcher.match(action.name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(action.name),
                    partial(self._run, action.method),
                    help=action.help,
                )

    async def discover(self) -> Hits:
        if getattr(self.app, "read_only", True):
            return
        for action in STEP_ACTIONS:
            yield Hit(1, action.name, partial(self._run, action.method), help=action.help)
