"""The corpus of hostile strings (one per class of issue 11) and the checks that they arrived
inert. Every path test drives these through its input (a note, a log line, a probe's site name or
error, a DNS answer) and checks its surface with the helpers below. Each check fails when the
untrusted-text boundary is bypassed: the visible marks (``␛``) exist only because the boundary
made them, and the literal markup shows only because nothing parsed it. (The `html` class is
inert text on a terminal by itself; its checks are in the documents, where the Markdown
escaping is what makes it inert, and those fail without it.)"""

from __future__ import annotations

import html
import re

# class -> (the hostile string, what an inert surface shows of it). Each carries a word of its
# own so a test can find it; what is shown is written out here, not computed by the boundary.
CORPUS: dict[str, tuple[str, str]] = {
    "action-quit": ("[@click=app.quit]quitlink[/]", "[@click=app.quit]quitlink[/]"),
    "action-screenshot": (
        "[@click=app.screenshot('pwned.svg','.')]shotlink[/]",
        "[@click=app.screenshot('pwned.svg','.')]shotlink[/]",
    ),
    "action-start": ("[@click=app.start_step]startlink[/]", "[@click=app.start_step]startlink[/]"),
    "markup-blink": ("[blink]blinkword[/blink]", "[blink]blinkword[/blink]"),
    "markup-hyperlink": (
        "[link=https://evil.example]hyperword[/link]",
        "[link=https://evil.example]hyperword[/link]",
    ),
    "osc-title": ("\x1b]0;PWNED-TITLE\x07titleword", "␛]0;PWNED-TITLE␇titleword"),
    "osc2-title": ("\x1b]2;PWNED-TWO\x1b\\titletwo", "␛]2;PWNED-TWO␛\\titletwo"),
    "osc52-clipboard": (
        "\x1b]52;c;Y3VybCBldmlsfHNo\x07clipword",
        "␛]52;c;Y3VybCBldmlsfHNo␇clipword",
    ),
    "ed-clear": ("\x1b[2Jclearword", "␛[2Jclearword"),
    "dsr-report": ("\x1b[6ndsrword", "␛[6ndsrword"),
    "ris-reset": ("\x1bcresetword", "␛cresetword"),
    "c1-csi": ("\x9b2Jcsiword", "\\x9b2Jcsiword"),
    "del": ("del\x7fword", "del␡word"),
    "bidi": ("bidi\u202eword", "bidi<U+202E>word"),
    "html": (
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
    ),
    "md-link": ("[mdlink](javascript:alert(3))", "[mdlink](javascript:alert(3))"),
}
HOSTILE = [hostile for hostile, _ in CORPUS.values()]
SHOWN = [shown for _, shown in CORPUS.values()]

# The terminal-controlling bytes that must never be emitted (after the app's own SGR styling,
# which the helpers strip first).
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
FORBIDDEN = {
    "OSC (title, clipboard, hyperlink)": re.compile(r"\x1b\]"),
    "ED (clear screen)": re.compile(r"\x1b\[[0-9;]*J"),
    "DSR (device status report)": re.compile(r"\x1b\[[0-9;]*n"),
    "RIS (reset)": re.compile(r"\x1bc"),
    "C1 controls": re.compile("[\x80-\x9f]"),
    "BEL": re.compile("\x07"),
    "DEL": re.compile("\x7f"),
    "bidi override": re.compile("\u202e"),
}


def forbidden_in(output: str) -> list[str]:
    """The classes of terminal control found in `output` (a terminal's raw byte stream, decoded),
    ignoring SGR colour codes."""
    plain = _SGR.sub("", output)
    return [name for name, pattern in FORBIDDEN.items() if pattern.search(plain)]


def missing(text: str, shown: list[str] | None = None) -> list[str]:
    """The inert forms of the corpus that `text` (a screen, an output, a document's text) does
    not show: markup parsed, a control emitted or dropped instead of shown."""
    return [s for s in (SHOWN if shown is None else shown) if s not in text]


def svg_text(svg: str) -> str:
    """The characters of a Textual SVG screenshot, one string per line of the screen."""
    rows = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(rows)).replace("\xa0", " ")
