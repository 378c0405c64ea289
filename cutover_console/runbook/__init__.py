"""Driving a cutover: the state fold, the rules, and the actions that journal what happens."""

from .actions import ActionRefused, Cutover, load_state
from .fold import CutoverState, StepState
from .rules import Refusal
from .summary import status_summary

__all__ = [
    "ActionRefused",
    "Cutover",
    "CutoverState",
    "Refusal",
    "StepState",
    "load_state",
    "status_summary",
]
