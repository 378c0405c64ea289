"""A writer for the durability tests: appends events as fast as it can and prints each committed
sequence number (after COMMIT returned), so the parent knows what must survive a kill -9."""

from __future__ import annotations

import sys

from cutover_console.journal import Actor, JournalWriter


def main() -> None:
    path, count = sys.argv[1], int(sys.argv[2])
    writer = JournalWriter.open(path, command="burst_writer")
    print("ready", flush=True)
    actor = Actor("lena", "test")
    for i in range(count):
        event = writer.append(
            "note.added", {"text": f"burst {i}", "pad": "x" * (i % 300)}, actor=actor
        )
        print(event.seq, flush=True)
    if len(sys.argv) > 3 and sys.argv[3] == "hold":
        sys.stdin.read()  # keep the lock until the parent closes stdin or kills us
    writer.close()


if __name__ == "__main__":
    main()
