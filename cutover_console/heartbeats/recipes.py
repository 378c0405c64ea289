"""Documented queries for the seed's systems, on top of the `sql` probe. Each returns one row:
(when it last ran, its outcome). Override any of them with the probe's own `query:`.

`mssql` is production (SQL Server's msdb, SSISDB and ReportServer); `postgresql` and `sqlite` read
tables of the same shape, as a rehearsal environment or a test bed keeps them.
"""

from __future__ import annotations

RECIPES: dict[str, dict[str, str]] = {
    # SQL Agent: the job outcome row (step_id 0) of the newest run of the named job.
    "sql_agent_job": {
        "mssql": (
            "SELECT TOP 1 msdb.dbo.agent_datetime(h.run_date, h.run_time), "
            "CASE h.run_status WHEN 1 THEN 'succeeded' WHEN 0 THEN 'failed' WHEN 2 THEN 'retry' "
            "WHEN 3 THEN 'canceled' ELSE 'in progress' END "
            "FROM msdb.dbo.sysjobhistory h JOIN msdb.dbo.sysjobs j ON j.job_id = h.job_id "
            "WHERE j.name = ? AND h.step_id = 0 ORDER BY h.instance_id DESC"
        ),
        "postgresql": (
            "SELECT to_timestamp(h.run_date::text || lpad(h.run_time::text, 6, '0'), "
            "'YYYYMMDDHH24MISS')::timestamp, "
            "CASE h.run_status WHEN 1 THEN 'succeeded' WHEN 0 THEN 'failed' WHEN 2 THEN 'retry' "
            "WHEN 3 THEN 'canceled' ELSE 'in progress' END "
            "FROM msdb.sysjobhistory h JOIN msdb.sysjobs j ON j.job_id = h.job_id "
            "WHERE j.name = ? AND h.step_id = 0 ORDER BY h.instance_id DESC LIMIT 1"
        ),
    },
    # SSIS catalog: the newest execution of the named package (status 7 = succeeded).
    "ssis_execution": {
        "mssql": (
            "SELECT TOP 1 COALESCE(end_time, start_time), "
            "CASE status WHEN 7 THEN 'succeeded' WHEN 4 THEN 'failed' WHEN 2 THEN 'running' "
            "WHEN 3 THEN 'canceled' WHEN 6 THEN 'ended unexpectedly' ELSE 'status ' + "
            "CAST(status AS varchar) END "
            "FROM SSISDB.catalog.executions WHERE package_name = ? ORDER BY execution_id DESC"
        ),
        "postgresql": (
            "SELECT COALESCE(end_time, start_time), "
            "CASE status WHEN 7 THEN 'succeeded' WHEN 4 THEN 'failed' WHEN 2 THEN 'running' "
            "WHEN 3 THEN 'canceled' WHEN 6 THEN 'ended unexpectedly' ELSE 'status ' || status END "
            "FROM catalog.executions WHERE package_name = ? ORDER BY execution_id DESC LIMIT 1"
        ),
    },
    # SSRS: the newest execution of the report at the given catalog path.
    "ssrs_execution": {
        "mssql": (
            "SELECT TOP 1 TimeEnd, Status FROM ReportServer.dbo.ExecutionLog3 "
            "WHERE ItemPath = ? ORDER BY TimeEnd DESC"
        ),
        "postgresql": (
            "SELECT timeend, status FROM reportserver.executionlog3 "
            "WHERE itempath = ? ORDER BY timeend DESC LIMIT 1"
        ),
    },
}
for _kind in RECIPES.values():  # SQLite speaks the PostgreSQL variants but for its casts
    _kind.setdefault("sqlite", _kind["postgresql"])


def recipe_query(kind: str, dialect: str) -> str:
    """The documented query for a recipe kind in a dialect."""
    try:
        return RECIPES[kind][dialect]
    except KeyError:
        if kind not in RECIPES:
            raise ValueError(f"a {kind} probe needs a `query`") from None
        raise ValueError(
            f"no {kind} recipe for dialect '{dialect}' "
            f"(have: {', '.join(RECIPES[kind])}); give a `query`"
        ) from None
