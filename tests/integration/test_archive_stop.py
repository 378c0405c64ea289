"""Issue 21, item 7: a journal service stopped in the middle of a slow publishing round. A proxy
in front of moto's S3 server holds every request back (as a slow S3 would); the lead's decision
is journaled, the service is stopped while its round is in flight. The archive ends at the
journal's head (the round's own record included), and the stop says so; when S3 is too slow to
catch up in the bound, the stop and the next `status` say what was left."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from s3bed import S3Bed, s3
from support import SMALL, run_cli

from cutover_console.archive.segments import segment_range
from cutover_console.journal import JournalReader

pytestmark = pytest.mark.integration
__all__ = ["s3"]


@contextmanager
def delaying_proxy(target: str, delay: float) -> Iterator[str]:
    """A TCP proxy to `target` (http://host:port) that holds each request chunk back `delay`
    seconds before passing it on; its own URL."""
    host, port = target.removeprefix("http://").rsplit(":", 1)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    address: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(hold)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer, delay), pipe(up_reader, writer, 0.0))

    async def main() -> None:
        server = await asyncio.start_server(client, "127.0.0.1", 0)
        address.append(server.sockets[0].getsockname()[1])
        ready.set()
        async with server:
            await server.serve_forever()

    def serve() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{address[0]}"
    finally:
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(10)


def archived_head(s3: S3Bed, bucket: str, prefix: str) -> int:
    """The last event of the contiguous segments from event 1 under `prefix` (asked of moto
    directly, not through the proxy)."""
    spans = sorted(span for name in s3.keys(bucket, prefix) if (span := segment_range(name)))
    head = 0
    for first, last in spans:
        if first <= head + 1:
            head = max(head, last)
    return head


def journal_head(journal: Path) -> int:
    with JournalReader(journal) as reader:
        head = reader.head()
    assert head is not None
    return head.seq


def serve_and_stop(tmp_path: Path, s3: S3Bed, delay: float, name: str) -> tuple[str, Path, str]:
    bucket = s3.bucket()
    journal = tmp_path / f"{name}.sqlite"
    assert run_cli("init", str(SMALL), "--journal", str(journal), cwd=tmp_path).returncode == 0
    with delaying_proxy(s3.endpoint, delay) as slow:
        env = s3.env(AWS_ENDPOINT_URL_S3=slow, CUTOVER_ARCHIVE=f"s3://{bucket}/{name}")
        started = run_cli("service", "start", "-j", str(journal), env=env, cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        time.sleep(3 * delay + 2)  # the first rounds are under way
        decided = run_cli(
            "step", "start", "freeze", "-j", str(journal), "--by", "omar", env=env, cwd=tmp_path
        )
        assert decided.returncode == 0, decided.stderr
        time.sleep(1.0)  # its round (segment, checkpoint) is in flight on the slow S3
        stopped = run_cli("service", "stop", "-j", str(journal), env=env, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert "Traceback" not in stopped.stderr
    return bucket, journal, stopped.stdout


def test_a_service_stopped_during_a_slow_round_leaves_the_archive_at_the_head(
    tmp_path: Path, s3: S3Bed
) -> None:
    bucket, journal, said = serve_and_stop(tmp_path, s3, 0.4, "slow")
    head = journal_head(journal)
    assert archived_head(s3, bucket, "slow") == head, said  # the last record included
    assert "caught up at stop" in said, said
    status = run_cli("status", "-j", str(journal), cwd=tmp_path)
    assert "FAULT" not in status.stdout


def test_a_witness_too_slow_to_catch_up_says_what_was_left(tmp_path: Path, s3: S3Bed) -> None:
    bucket, journal, said = serve_and_stop(tmp_path, s3, 30.0, "stuck")
    head = journal_head(journal)
    behind = archived_head(s3, bucket, "stuck")
    assert behind < head
    assert "NOT caught up" in said and "not archived when the publisher stopped" in said, said
    status = " ".join(run_cli("status", "-j", str(journal), cwd=tmp_path).stdout.split())
    assert "witness FAULT" in status and "not archived when the publisher stopped" in status
