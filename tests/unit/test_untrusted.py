"""The untrusted-text boundary and the redactor, unit by unit (the paths: test_untrusted_*)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hostile import CORPUS, HOSTILE, forbidden_in, missing
from markdown_it import MarkdownIt

from cutover_console.heartbeats.logs import LineAssembler
from cutover_console.secrets import Redactor
from cutover_console.untrusted import cell, clip, inert, json_text, md, md_document, text


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_class_is_shown_not_obeyed(name: str) -> None:
    hostile, shown = CORPUS[name]
    assert inert(hostile) == shown
    assert forbidden_in(inert(hostile)) == []
    rendered = text(hostile)
    assert rendered.plain == shown and not rendered.spans  # literal: no style, no link, no action
    assert cell(hostile).plain == shown


def test_a_text_built_elsewhere_is_checked_again() -> None:
    from rich.text import Text

    assert cell(Text("\x1b[2J", style="red")).plain == "␛[2J"
    fine = Text("ok", style="green")
    assert cell(fine) is fine


def test_tab_and_newline_stay_only_where_meaningful() -> None:
    assert inert("a\tb\nc") == "a␉b␊c"
    assert inert("a\tb\r\nc", multiline=True) == "a\tb\nc"


def test_a_huge_string_is_cut_with_a_mark() -> None:
    huge = "x" * 1_000_000
    assert inert(huge, limit=100).endswith("…")
    assert clip(huge, 2000).endswith("… [998,000 more characters]")


def test_json_stays_exact_and_inert() -> None:
    value = {"note": " ".join(HOSTILE)}
    dumped = json_text(value)
    assert json.loads(dumped) == value
    assert forbidden_in(dumped) == []


def test_markdown_shows_exactly_what_was_typed() -> None:
    renderer = MarkdownIt("commonmark").enable("table")
    typed = (
        "\n".join(HOSTILE) + "\n# heading?\n1. list?\n- item?\n> quote?\n===\n`code` *em* _u_ |x|"
    )
    rendered = renderer.render(
        "| a |\n|---|\n| " + md(typed) + " |\n\n" + md(typed, multiline=True)
    )
    assert not re.search(r"<(script|img|a|h1|ol|ul|blockquote|em|code|strong)\b", rendered)
    plain = re.sub(r"<[^>]+>", "", rendered)
    import html

    assert missing(html.unescape(plain)) == []


def test_plan_markdown_keeps_formatting_but_no_html_or_script_links() -> None:
    rendered = MarkdownIt("commonmark").render(
        md_document(
            "**bold** [ok](https://example.com) [bad](javascript:alert(1)) <b>x</b> \x1b[2J"
        )
    )
    assert "<strong>bold</strong>" in rendered and 'href="https://example.com"' in rendered
    assert 'href="javascript' not in rendered and "<b>" not in rendered and "\x1b" not in rendered


SECRET = "S3cr3t-Pa55"


@pytest.mark.parametrize(
    "line",
    [
        f"login failed for app using {SECRET}",  # the resolved DSN's bare password
        f"connect postgresql://app:{SECRET}@db:5432/x refused",
        f"connect https://bob:other-{SECRET}@host/ refused",  # any URL's password
        f'{{"user": "app", "password": "other-{SECRET}"}}',
        f"{{'api_key': 'other-{SECRET}'}}",
        f"db_password: other-{SECRET}",
        f"token=other-{SECRET}&next=1",
        f"secret = other-{SECRET}",
        f"passwd='other-{SECRET}'",
        f"PWD={{other-{SECRET}}};Server=x",
        f"Authorization: Bearer other-{SECRET}",
        f"Cookie: session=other-{SECRET}",
    ],
)
def test_redaction_covers_every_shape(line: str) -> None:
    redact = Redactor()
    redact.remember(f"Driver={{PostgreSQL}};Server=db;UID=app;PWD={SECRET};Database=x")
    out = redact(line)
    assert SECRET not in out and "***" in out


def test_redaction_is_linear_on_a_huge_line() -> None:
    redact = Redactor()
    redact.remember("Driver=x;PWD=S3cr3t-Pa55")
    for shape in ("a." * 500_000, "x" * 1_000_000, "password=" * 100_000):
        assert len(redact(shape)) > 0  # finishes (a quadratic pattern took minutes here)


def test_lines_are_cut_at_the_limit_without_holding_the_rest() -> None:
    lines = LineAssembler(limit=10)
    assert lines.feed("short\nabcdefghij") == ["short"]
    assert lines.feed("klmnop" * 1000) == []
    assert lines.feed("\nnext\n") == ["abcdefghij… [cut: 6,000 more characters]", "next"]


def test_the_journal_never_holds_a_secret(  # type: ignore[no-untyped-def]
    cutover, journal_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutover_console.journal import JournalReader
    from cutover_console.secrets import resolve

    monkeypatch.setenv("UNTRUSTED_TEST_DSN", f"Driver=x;Server=db;PWD={SECRET}")
    resolve("env:UNTRUSTED_TEST_DSN")  # this process has used it
    cutover.note(f"db said {SECRET}; also token=abc123 here", "lena")
    with JournalReader(journal_path) as reader:
        stored = json.dumps([e.payload for e in reader.events()])
    assert "db said ***" in stored
    assert SECRET not in stored and "abc123" not in stored


def test_an_engine_crash_quoting_a_secret_is_redacted_for_the_panes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from cutover_console.secrets import resolve
    from cutover_console.service.engines import _guard

    monkeypatch.setenv("UNTRUSTED_TEST_DSN", f"Driver=x;Server=db;PWD={SECRET}")
    resolve("env:UNTRUSTED_TEST_DSN")

    async def crashes() -> None:
        raise RuntimeError(f"cannot connect with Driver=x;Server=db;PWD={SECRET}")

    errors: dict[str, str] = {}
    asyncio.run(_guard("flows", crashes(), errors))
    assert SECRET not in errors["flows"] and "RuntimeError: cannot connect" in errors["flows"]


def test_the_service_log_never_holds_a_secret(tmp_path: Any) -> None:
    """The service's stderr (its log) is redacted line by line, whatever the writes' sizes: a
    traceback quoting a resolved secret, and a secret split across two writes."""
    import subprocess
    import sys

    script = f"""
import os, sys
from cutover_console.secrets import RedactingStream, resolve
os.environ["T_DSN"] = "Driver=x;PWD={SECRET}"
resolve("env:T_DSN")
sys.stderr = RedactingStream(sys.stderr)
sys.stderr.write("split {SECRET[:4]}")
sys.stderr.write("{SECRET[4:]} here\\n")
print("no newline at the end {SECRET}", file=sys.stderr, end="")
sys.stderr.flush()
raise RuntimeError("driver said PWD={SECRET}")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 1
    assert "split *** here" in run.stderr and "no newline at the end ***" in run.stderr
    assert "RuntimeError: driver said" in run.stderr
    assert SECRET not in run.stderr
