"""`cutover dns`'s vantage tables: propagation by country and network, then every point."""

from __future__ import annotations

from typing import Any

from ..untrusted import text as literal
from .output import cells, styled


def _percent(value: float) -> Any:
    return styled(f"{value:g}", "green" if value >= 100 else "yellow" if value else "red")


def _local(text: str | None) -> str:
    from datetime import datetime

    return f"{datetime.fromisoformat(text).astimezone():%H:%M:%S}" if text else ""


def vantage_tables(vantage: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    out: list[Any] = []
    for title, key in (("by country", "by_country"), ("by network (ASN)", "by_asn")):
        table = Table(title=f"vantage points {title}", header_style="bold")
        for col in ("where", "points", "% new", "old", "failed", "longest TTL left", "all new by"):
            table.add_column(col)
        for group in vantage[key][:60]:
            table.add_row(
                *cells(
                    literal(group["label"], limit=60),
                    str(group["points"]),
                    _percent(group["percent_new"]),
                    str(group["old"]),
                    str(group["failed"]) if group["failed"] else "",
                    f"{group['ttl_left']} s" if group["ttl_left"] is not None else "",
                    _local(group["all_new_by"]),
                )
            )
        out.append(table)
    points = Table(title="vantage points", header_style="bold")
    for col in ("point", "country", "city", "network", "resolver", "record", "status", "TTL"):
        points.add_column(col)
    for row in vantage["points"][:200]:
        points.add_row(
            *cells(
                row["point"],
                literal(row["country"], limit=8),
                literal(row["city"], limit=40),
                literal(row["network"], limit=40),
                literal(row["resolver"], limit=40),
                row["record"],
                literal(row["status"] + (f" ({row['detail']})" if row["detail"] else ""), limit=60),
                str(row["ttl"]) if row["ttl"] is not None else "",
            )
        )
    out.append(points)
    for key, fault in vantage["faults"].items():
        out.append(literal(f"fault {key}: {fault}", "bold red", limit=300))
    return out
