"""Untrusted text through the update templates (issue 22): CR/LF never reach a title, HTML email
escapes data, chat mentions and links are neutralised, SMS is cut visibly, escape sequences are
shown, never sent; and the sandbox refuses attribute tricks."""

from __future__ import annotations

import pytest
from hostile import HOSTILE, missing

from cutover_console.comms.render import FORMATS, SMS_LIMIT, RenderError, format_of, render

TITLE = "{{ cutover }}: {{ trigger }}"
BODY = "Step: {{ step }}\nNext: {{ next }}"


def context(value: str) -> dict[str, str]:
    return {"cutover": "Cutover", "trigger": value, "step": value, "next": value,
            "message_id": "c.1.r.a"}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_cr_or_lf_from_data_reaches_a_title(fmt: str) -> None:
    out = render(TITLE, BODY, context("done\r\nBcc: victim@evil.test\nX-Injected: 1"), fmt)
    assert "\r" not in out.title and "\n" not in out.title
    assert "Bcc" in out.title  # kept as text on the one line, not dropped


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_hostile_corpus_arrives_inert_in_every_format(fmt: str) -> None:
    for hostile in HOSTILE:
        out = render(TITLE, BODY, context(hostile), fmt)
        for text in (out.title, out.body):
            assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
            assert "\u202e" not in text and "\x7f" not in text
    escapes = render(TITLE, BODY, context("\x1b]0;PWNED\x07x"), fmt)
    assert "␛]0;PWNED␇x" in escapes.body or "␛\\]0;PWNED␇x" in escapes.body


def test_html_email_escapes_data_but_not_the_template() -> None:
    out = render("t", "<b>{{ step }}</b>", context("<script>alert(1)</script>"), "html")
    assert "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>" in out.body
    assert "<script>" not in out.body


def test_chat_mentions_markup_and_links_are_neutralised() -> None:
    value = "@channel <!everyone> @here [click](https://evil.test/x) *bold*"
    out = render("t", "{{ step }}", context(value), "chat")
    assert "@channel" not in out.body and "@here" not in out.body
    assert "<!everyone>" not in out.body and "&lt;!everyone&gt;" in out.body
    assert "https://" not in out.body and "https[:]//evil.test" in out.body
    assert "](" not in out.body and "\\*bold\\*" in out.body


def test_sms_is_cut_visibly_at_its_limit_and_a_megabyte_note_is_bounded() -> None:
    out = render("t", "{{ step }}", context("x" * 1_000_000), "sms")
    assert len(out.body) <= SMS_LIMIT + 40
    assert "[cut:" in out.body
    text = render("t", "{{ step }}", context("y" * 1_000_000), "text")
    assert len(text.body) < 30_000 and "more characters]" in text.body


def test_the_sandbox_refuses_attribute_tricks() -> None:
    with pytest.raises(RenderError):
        render("t", "{{ step.__class__.__mro__[1].__subclasses__() }}", context("x"), "text")


def test_every_format_ends_with_the_message_id() -> None:
    for fmt in FORMATS:
        assert "c.1.r.a" in render(TITLE, BODY, context("x"), fmt).body


def test_the_corpus_words_still_show() -> None:
    out = render("t", "{{ step }}", context(" ".join(HOSTILE)), "text")
    assert not missing(out.body)


def test_channel_formats() -> None:
    assert format_of("mailtos://x") == "html"
    assert format_of("slack://a/b/c") == "chat"
    assert format_of("twilio://a") == "sms"
    assert format_of("json://h/p") == "text"
