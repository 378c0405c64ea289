"""What a watcher served over SSH does when it fails (issue 21): it keeps the reason, prints no
traceback on the client's terminal (Textual's carries local variables), and hands the reason
to its server, which tells the client in one line and logs it."""

from __future__ import annotations

import os
from typing import Any

from rich.traceback import Traceback

from ..sshwatch.last_words import REPORT_FD_ENV, describe, report


class ReportsLastWords:
    """A mixin for the watch app. Textual's two ways to die: an exception in a handler
    (`_handle_exception`), and `panic` with a traceback from a thread (its input thread's
    errors arrive that way, with the exit status left at 0)."""

    last_error = ""

    def _handle_exception(self, error: Exception) -> None:
        self.last_error = self.last_error or describe(error)
        super()._handle_exception(error)  # type: ignore[misc]

    def panic(self, *renderables: Any) -> None:
        if not self.last_error:
            for renderable in renderables:
                if isinstance(renderable, Traceback) and renderable.trace.stacks:
                    stack = renderable.trace.stacks[-1]
                    self.last_error = f"{stack.exc_type}: {stack.exc_value}"
                    break
            else:
                self.last_error = " ".join(str(r) for r in renderables if isinstance(r, str))
                self.last_error = self.last_error or "the console failed"
        super().panic(*renderables)  # type: ignore[misc]

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        if return_code and message is not None and not self.last_error:
            self.last_error = str(message)  # e.g. the journal damaged while watched
        super().exit(result, return_code, message)  # type: ignore[misc]

    def _print_error_renderables(self) -> None:
        if os.environ.get(REPORT_FD_ENV, "").isdigit():  # the server says it, in one line
            self._exit_renderables.clear()  # type: ignore[attr-defined]
            return
        super()._print_error_renderables()  # type: ignore[misc]

    def report_last_words(self) -> None:
        """After `run()`: the reason, if the app stopped on an error."""
        if self.last_error:
            report(self.last_error)


__all__ = ["ReportsLastWords"]
