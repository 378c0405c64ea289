"""Channel URLs are secrets (issue 22): what Apprise's privacy form hides is blanked wherever
the process writes it, and what it shows stays readable."""

from __future__ import annotations

import pytest

from cutover_console.comms.delivery import privacy_url, resolve_channel
from cutover_console.secrets import REDACT

CANARY = "Canary7f3a9cTokenNotForLogs"


@pytest.mark.parametrize(
    "url",
    [
        f"mailtos://ops:{CANARY}@mail.example.test?to=a@b.test",
        f"slack://T1JJ3T3L2/A1BRTD4JD/{CANARY}/#general",
        f"json://user:{CANARY}@hooks.example.test/path",
        f"ntfy://user:{CANARY}@ntfy.example.test/topic",
    ],
)
def test_the_secret_part_of_a_channel_url_is_blanked_everywhere(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMS_SECRET_TEST", url)
    assert resolve_channel("env:COMMS_SECRET_TEST") == [url]
    assert CANARY not in REDACT(f"sent to {url}, said 250")
    shown = privacy_url([url])
    assert CANARY not in shown and "://" in shown


def test_what_apprise_shows_stays_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMS_SECRET_TEST", "json://hooks.example.test:8080/cutover-updates")
    resolve_channel("env:COMMS_SECRET_TEST")
    assert "hooks.example.test" in privacy_url(["json://hooks.example.test:8080/cutover-updates"])


def test_an_apprise_config_file_is_a_channel(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "apprise.yml"
    config.write_text(f"urls:\n  - json://hooks.example.test/a\n  - mailto://u:{CANARY}@m.test\n")
    urls = resolve_channel(f"file:{config}")
    assert len(urls) == 2 and urls[0].startswith("json://")
    assert CANARY not in REDACT(" ".join(urls))


def test_a_query_key_is_not_taken_for_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel URL's query keys ('token', 'apikey') are names, not secrets: blanking the word
    'token' everywhere would hide the name the key=value rule finds a secret by, and
    `token=abc123` in a note would then reach the journal."""
    url = f"json://hooks.example.test/path?token={CANARY}&apikey={CANARY}x&format=markdown"
    monkeypatch.setenv("COMMS_SECRET_TEST", url)
    resolve_channel("env:COMMS_SECRET_TEST")
    said = REDACT("also token=abc123 and apikey: xyz789 here")
    assert "abc123" not in said and "xyz789" not in said and "token=" in said
    assert CANARY not in REDACT(url)
