"""Signed sign-offs in the export: statements, signatures and an allowed_signers generated from
the plan, checked by `cutover verify` and by the stock route (the real ssh-keygen), each
tampering caught."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from signing import NAMESPACE, keygen, signed_plan, stock_sign
from support import run_cli

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover
from cutover_console.signoffs import Presented

pytestmark = pytest.mark.filterwarnings("ignore:DSA is deprecated")


def _sign(folder: Path, key: Path, text: str, namespace: str = NAMESPACE) -> str:
    path = folder / f"st-{abs(hash((text, str(key), namespace)))}.txt"
    path.write_text(text)
    return stock_sign(key, path, namespace).read_text()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    folder = tmp_path_factory.mktemp("signed-export")
    keys = {
        "cleo": keygen(folder / "k", "cleo"),
        "lena": keygen(folder / "k", "lena", "rsa"),
        "nia": keygen(folder / "k", "nia"),
    }
    plan = signed_plan(folder, keys)
    document = load_plan(plan)
    journal = folder / "j.sqlite"
    from datetime import UTC, datetime

    clock = ManualClock(datetime(2026, 12, 5, 13, 0, tzinfo=UTC))
    writer = JournalWriter.create(
        journal,
        document.text,
        document.sha256,
        document.file,
        Actor.here("lena"),
        cutover_id=document.plan.cutover.id,
        clock=clock,
        plan_keys=document.keys,
    )
    cutover = Cutover(writer, clock)
    cutover.start("go", "nia", override="test")
    text = cutover.signoff_statement("go", "cleo")
    cutover.signoff("go", "cleo", signed=Presented(text, _sign(folder, keys["cleo"].private, text)))
    text = cutover.signoff_statement("go", "lena", role="lead")
    cutover.signoff("go", "lena", signed=Presented(text, _sign(folder, keys["lena"].private, text)))
    writer.close()
    out = folder / "bundle"
    made = run_cli(
        "export",
        "--journal",
        str(journal),
        "-o",
        str(out),
        "--sign-key",
        str(folder / "export_key"),
    )
    assert made.returncode == 0, made.stderr
    return out, keys, folder


def stock_commands(bundle: Path) -> list[list[str]]:
    """The stock commands VERIFY.md lists for the signed sign-offs, as argv and stdin file."""
    text = (bundle / "VERIFY.md").read_text()
    found = re.findall(
        r"ssh-keygen -Y verify -f allowed_signers -I (\S+) -n (\S+) \\\n"
        r"\s+-O verify-time=\d{14}Z -s (\S+) < (\S+)",
        text,
    )
    return [list(x) for x in found if x[1] == NAMESPACE]


def verify_time(bundle: Path, sig: str) -> str:
    """The `-O verify-time=` VERIFY.md gives for this signature file."""
    text = (bundle / "VERIFY.md").read_text()
    match = re.search(rf"-O verify-time=(\d{{14}}Z) -s {re.escape(sig)} ", text)
    assert match is not None, sig
    return match.group(1)


def stock_verify(
    bundle: Path, person: str, sig: str, statement: str
) -> subprocess.CompletedProcess[bytes]:
    folder = bundle / "signoffs"
    with (folder / statement).open("rb") as handle:
        return subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                "allowed_signers",
                "-I",
                person,
                "-n",
                NAMESPACE,
                "-O",
                f"verify-time={verify_time(bundle, sig)}",
                "-s",
                sig,
            ],
            stdin=handle,
            capture_output=True,
            cwd=folder,
        )


def test_bundle_holds_the_signed_signoffs_and_both_routes_pass(
    bundle: tuple[Path, dict, Path],
) -> None:
    out, keys, _ = bundle
    names = sorted(p.name for p in (out / "signoffs").iterdir())
    assert len(names) == 5 and "allowed_signers" in names
    allowed = (out / "signoffs" / "allowed_signers").read_text()
    assert f'cleo namespaces="{NAMESPACE}" {keys["cleo"].line}' in allowed
    assert f'lena namespaces="{NAMESPACE}" {keys["lena"].line}' in allowed
    verified = run_cli("verify", str(out))
    assert verified.returncode == 0, verified.stderr
    commands = stock_commands(out)
    assert [c[0] for c in commands] == ["cleo", "lena"]
    for person, _ns, sig, statement in commands:
        good = stock_verify(out, person, sig, statement)
        assert good.returncode == 0, good.stderr
        assert b"Good" in good.stdout + good.stderr and person.encode() in good.stdout + good.stderr
    report = (out / "report.md").read_text()
    assert f"signed by cleo's key {keys['cleo'].fingerprint}" in report
    manifest = (out / "manifest.sha256").read_text()
    assert "signoffs/allowed_signers" in manifest
    checked = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=out, capture_output=True)
    assert checked.returncode == 0, checked.stdout


def tampered(bundle: tuple[Path, dict, Path], tmp_path: Path) -> tuple[Path, list[list[str]]]:
    copy = tmp_path / "copy"
    shutil.copytree(bundle[0], copy)
    return copy, stock_commands(copy)


def expect_both_fail(copy: Path, person: str, sig: str, statement: str, why: str) -> None:
    verified = run_cli("verify", str(copy))
    assert verified.returncode == 1, verified.stdout
    assert why in verified.stderr, verified.stderr
    assert stock_verify(copy, person, sig, statement).returncode != 0


def test_tampered_statement_caught(bundle: tuple[Path, dict, Path], tmp_path: Path) -> None:
    copy, commands = tampered(bundle, tmp_path)
    person, _ns, sig, statement = commands[0]
    path = copy / "signoffs" / statement
    path.write_text(path.read_text().replace("role client-observer", "role lead"))
    expect_both_fail(copy, person, sig, statement, "signoffs/")


def test_tampered_signature_caught(bundle: tuple[Path, dict, Path], tmp_path: Path) -> None:
    copy, commands = tampered(bundle, tmp_path)
    person, _ns, sig, statement = commands[0]
    path = copy / "signoffs" / sig
    lines = path.read_text().splitlines()
    middle = lines[3]
    lines[3] = middle[:10] + ("A" if middle[10] != "A" else "B") + middle[11:]
    path.write_text("\n".join(lines) + "\n")
    expect_both_fail(copy, person, sig, statement, "signoffs/")


@pytest.mark.parametrize("variant", ["other_key", "wrong_namespace"])
def test_resigned_by_another_key_or_namespace_caught(
    bundle: tuple[Path, dict, Path], tmp_path: Path, variant: str
) -> None:
    copy, commands = tampered(bundle, tmp_path)
    _, keys, _ = bundle
    person, _ns, sig, statement = commands[0]
    text = (copy / "signoffs" / statement).read_text()
    key = keys["nia"].private if variant == "other_key" else keys["cleo"].private
    namespace = NAMESPACE if variant == "other_key" else "file"
    (copy / "signoffs" / sig).write_text(_sign(tmp_path, key, text, namespace))
    expect_both_fail(copy, person, sig, statement, "signoffs/")


def test_allowed_signers_swapped_key_caught(
    bundle: tuple[Path, dict, Path], tmp_path: Path
) -> None:
    copy, commands = tampered(bundle, tmp_path)
    _, keys, _ = bundle
    person, _ns, sig, statement = commands[0]
    allowed = copy / "signoffs" / "allowed_signers"
    allowed.write_text(allowed.read_text().replace(keys["cleo"].line, keys["nia"].line))
    expect_both_fail(copy, person, sig, statement, "allowed_signers")


def test_replayed_statement_swapped_in_caught(
    bundle: tuple[Path, dict, Path], tmp_path: Path
) -> None:
    copy, commands = tampered(bundle, tmp_path)
    (_, _, sig1, st1), (_, _, sig2, st2) = commands
    folder = copy / "signoffs"
    # lena's sign-off replaced by cleo's statement and signature (a replay of another sign-off)
    shutil.copy(folder / st1, folder / st2)
    shutil.copy(folder / sig1, folder / sig2)
    verified = run_cli("verify", str(copy))
    assert verified.returncode == 1 and "signoffs/" in verified.stderr
    # the stock route: no longer lena's signature
    assert stock_verify(copy, "lena", sig2, st2).returncode != 0


def test_a_key_removed_later_still_verifies_earlier_signoffs_both_routes(tmp_path: Path) -> None:
    keys = {"cleo": keygen(tmp_path / "k", "cleo"), "nia": keygen(tmp_path / "k", "nia")}
    plan = signed_plan(tmp_path, keys)
    document = load_plan(plan)
    from datetime import UTC, datetime, timedelta

    clock = ManualClock(datetime(2026, 12, 5, 13, 0, tzinfo=UTC))
    journal = tmp_path / "j.sqlite"
    writer = JournalWriter.create(
        journal,
        document.text,
        document.sha256,
        document.file,
        Actor.here("lena"),
        cutover_id=document.plan.cutover.id,
        clock=clock,
        plan_keys=document.keys,
    )
    cutover = Cutover(writer, clock)
    cutover.start("go", "nia", override="test")
    text = cutover.signoff_statement("go", "cleo")
    cutover.signoff(
        "go", "cleo", signed=Presented(text, _sign(tmp_path, keys["cleo"].private, text))
    )
    clock.advance(timedelta(hours=1))
    plan.write_text(plan.read_text().replace(', keys: ["file:keys/cleo.pub"]', ""))
    assert cutover.revise_plan(load_plan(plan), "lena", "cleo's laptop was replaced")
    writer.close()
    out = tmp_path / "bundle"
    made = run_cli(
        "export", "--journal", str(journal), "-o", str(out), "--sign-key", str(tmp_path / "ek")
    )
    assert made.returncode == 0, made.stderr
    allowed = (out / "signoffs" / "allowed_signers").read_text()
    assert 'valid-before="20261205140000Z"' in allowed
    assert run_cli("verify", str(out)).returncode == 0
    [(person, _ns, sig, statement)] = stock_commands(out)
    good = stock_verify(out, person, sig, statement)
    assert good.returncode == 0, good.stderr
    # at a time after the revision, the stock route no longer accepts cleo's key
    late = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            "allowed_signers",
            "-I",
            "cleo",
            "-n",
            NAMESPACE,
            "-O",
            "verify-time=20261205150000Z",
            "-s",
            sig,
        ],
        stdin=(out / "signoffs" / statement).open("rb"),
        capture_output=True,
        cwd=out / "signoffs",
    )
    assert late.returncode != 0
