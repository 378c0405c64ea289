"""Live smoke test of the Globalping backend against the real API (needs the internet; not part
of the CI suite, which has none): reads /v1/limits, runs one DNS measurement of a public name
from a few probes, reuses the same probes once, and prints what the engine made of it.

    python scripts/globalping_smoke.py [NAME] [--token-env VAR]

Costs about 6 of the hour's anonymous points. Exit 0 when every step answered as expected."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from cutover_console.dns.vantage.globalping import GlobalpingClient, GlobalpingError


async def smoke(name: str, token: str | None) -> int:
    client = GlobalpingClient("https://api.globalping.io", token)
    try:
        limits = await client.limits()
        print(
            f"limits: {limits.type} {limits.remaining}/{limits.limit}, resets in {limits.reset} s"
        )
        first = await client.measure(
            name, "A", [{"magic": "Europe", "limit": 2}, {"magic": "North America", "limit": 1}]
        )
        print(
            f"measurement {first.id}: {first.probes_count} probes, {first.polls} polls, "
            f"{first.not_modified} x 304"
        )
        again = await client.measure(name, "A", first.id)
        same = [r["probe"]["city"] for r in first.body["results"]] == [
            r["probe"]["city"] for r in again.body["results"]
        ]
        print(f"reused probes: {again.id} same order: {same}")
        for item in again.body["results"]:
            probe, result = item["probe"], item["result"]
            answers = [f"{a['value']} ttl {a['ttl']}" for a in result.get("answers", [])]
            print(
                json.dumps(
                    [
                        probe["country"],
                        probe["city"],
                        probe["network"],
                        result.get("resolver"),
                        result["status"],
                        answers,
                    ],
                    ensure_ascii=True,
                )
            )
        return 0 if same and again.body.get("status") == "finished" else 1
    except GlobalpingError as exc:
        print(f"{exc.title}: {exc} {exc.params or ''}", file=sys.stderr)
        return 1
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="example.com")
    parser.add_argument("--token-env", default=None, help="environment variable holding a token")
    args = parser.parse_args()
    token = os.environ.get(args.token_env) if args.token_env else None
    sys.exit(asyncio.run(smoke(args.name, token)))


if __name__ == "__main__":
    main()
