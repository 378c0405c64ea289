"""The panes, one module each: the clock bar, the checklist, the step in focus, DNS, flows, logs,
the journal. Each renders from the cutover state (a fold over the journal) through the one
keyed-table widget (`ui/table.py`); none of them writes anything."""

from __future__ import annotations

from .checklist import FILTERS, STATUS_MARK, Checklist
from .clock_bar import ClockBar, FinishedBanner
from .dns import DnsPane
from .flows import FlowsPane
from .journal import JournalPane
from .logs import LogsPane
from .step_detail import StepDetail

__all__ = [
    "FILTERS",
    "STATUS_MARK",
    "Checklist",
    "ClockBar",
    "DnsPane",
    "FinishedBanner",
    "FlowsPane",
    "JournalPane",
    "LogsPane",
    "StepDetail",
]
