"""The cutover plan: model, loader with located errors, cross-checks and scheduling."""

from .loader import PlanDocument, load_plan, load_plan_text, plan_sha256
from .model import Plan, Step
from .problems import PlanInvalid, PlanProblem

__all__ = [
    "Plan",
    "PlanDocument",
    "PlanInvalid",
    "PlanProblem",
    "Step",
    "load_plan",
    "load_plan_text",
    "plan_sha256",
]
