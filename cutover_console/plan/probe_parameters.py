"""Which parameters each probe kind takes: checked when the plan is loaded, so that a typo in a
probe is reported with its file, line and field rather than at 3 a.m. when it first runs. Part of
the plan's model; the probes (heartbeats) read it from here."""

from __future__ import annotations

import difflib
from typing import Any

SQL_KINDS = ("sql", "sqlite", "sql_agent_job", "ssis_execution", "ssrs_execution")
# Required and optional parameters per kind; anything else in the plan is an error.
PARAMETERS: dict[str, tuple[set[str], set[str]]] = {
    "sql": ({"dsn", "query"}, {"database", "timeout", "timezone"}),
    "sqlite": ({"path", "query"}, {"timeout", "timezone"}),
    "sql_agent_job": ({"dsn", "job"}, {"database", "dialect", "query", "timeout", "timezone"}),
    "ssis_execution": ({"dsn", "package"}, {"database", "dialect", "query", "timeout", "timezone"}),
    "ssrs_execution": ({"dsn", "report"}, {"database", "dialect", "query", "timeout", "timezone"}),
    # `columns: [site, last_seen, count]`: the command prints CSV rows, read like a SQL result.
    "ssh": (
        {"host", "command"},
        {
            "port",
            "user",
            "key",
            "known_hosts",
            "expect",
            "last_seen",
            "columns",
            "timeout",
            "timezone",
        },
    ),
    # `resolve: "host:port:address"` pins the address like curl --resolve, to test one side
    # whatever DNS says.
    "http": ({"url"}, {"method", "expect_status", "match", "resolve", "timeout", "verify"}),
    "tcp": ({"host", "port"}, {"timeout"}),
    "aws": (
        set(),
        {
            "metric",
            "namespace",
            "dimensions",
            "stat",
            "period",
            "window",
            "target_group_arn",
            "min_healthy",
            "region",
            "endpoint_url",
            "timeout",
        },
    ),
    "file": ({"path"}, {"pattern"}),
}


class ProbeConfigError(ValueError):
    """A probe's parameters do not fit its kind; `field` names the offending one if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def check_parameters(kind: str, params: dict[str, Any]) -> None:
    """Raise ProbeConfigError for a missing or unknown parameter of a probe kind."""
    required, optional = PARAMETERS[kind]
    missing = required - set(params)
    if missing:
        raise ProbeConfigError(f"a {kind} probe needs {', '.join(sorted(missing))}")
    for name in sorted(set(params) - required - optional):
        near = difflib.get_close_matches(name, sorted(required | optional), n=1, cutoff=0.7)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise ProbeConfigError(
            f"'{name}' is not a {kind} probe parameter ({hint}valid: "
            f"{', '.join(sorted(required | optional))})",
            name,
        )
    if kind == "aws" and not ({"metric", "target_group_arn"} & set(params)):
        raise ProbeConfigError("an aws probe needs `metric` (CloudWatch) or `target_group_arn`")
