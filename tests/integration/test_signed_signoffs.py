"""Sign-offs signed with the signer's own SSH key (issue 23): the plan's keys, the statement,
the service's rules, local signing with a key file and with a real ssh-agent, and `cutover
verify`. Keys are throwaway ed25519 and RSA keys made by the real ssh-keygen."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from signing import NAMESPACE, Key, keygen, signed_plan, ssh_add, ssh_agent, stock_sign
from support import run_cli

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalReader, JournalWriter
from cutover_console.plan import PlanInvalid, load_plan
from cutover_console.runbook import ActionRefused, Cutover
from cutover_console.signoffs import Presented, Statement, check_journal

pytestmark = pytest.mark.filterwarnings("ignore:DSA is deprecated")


@dataclass
class World:
    folder: Path
    keys: dict[str, Key]
    plan: Path
    journal: Path


@pytest.fixture
def world(tmp_path: Path) -> World:
    keys = {
        "cleo": keygen(tmp_path / "k", "cleo"),
        "lena": keygen(tmp_path / "k", "lena", "rsa"),
        "nia": keygen(tmp_path / "k", "nia"),
        "omar": keygen(tmp_path / "k", "omar"),
    }
    plan = signed_plan(tmp_path, keys)
    journal = tmp_path / "j.sqlite"
    made = run_cli("init", str(plan), "--journal", str(journal), "--by", "lena")
    assert made.returncode == 0, made.stderr
    return World(tmp_path, keys, plan, journal)


def start_go(world: World, by: str = "nia") -> None:
    started = run_cli(
        "step", "start", "go", "--journal", str(world.journal), "--by", by, "--override", "test"
    )
    assert started.returncode == 0, started.stderr


def events(journal: Path, kind: str) -> list[dict]:
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT payload, actor FROM events WHERE kind = ?", (kind,)).fetchall()
    return [json.loads(p) for p, _ in rows]


# -- the plan ---------------------------------------------------------------------------------


def test_a_key_listed_for_two_people_is_refused_by_check(tmp_path: Path) -> None:
    shared = keygen(tmp_path / "k", "shared")
    plan = signed_plan(tmp_path, {"cleo": shared, "nia": shared})
    checked = run_cli("check", str(plan))
    assert checked.returncode == 2
    line = next(x for x in checked.stderr.splitlines() if "also listed" in x)
    assert line.startswith(f"{plan}:"), line
    assert "is also listed for 'nia'" in line or "also listed for 'cleo'" in line
    number = int(line.split(":")[1])
    assert "keys" in plan.read_text().splitlines()[number - 1]


def test_keys_in_the_plan_are_checked_and_file_references_resolved(tmp_path: Path) -> None:
    cleo = keygen(tmp_path / "k", "cleo")
    plan = signed_plan(tmp_path, {"cleo": cleo})
    document = load_plan(plan)
    assert document.keys["cleo"] == [cleo.line]
    broken = plan.read_text().replace("file:keys/cleo.pub", "file:keys/missing.pub")
    plan.write_text(broken)
    with pytest.raises(PlanInvalid, match=r"cannot read the key file keys/missing\.pub"):
        load_plan(plan)
    plan.write_text(broken.replace('"file:keys/missing.pub"', '"ssh-ed25519 AAAAnotakey"'))
    with pytest.raises(PlanInvalid, match=r"not a ssh-ed25519 key|base64"):
        load_plan(plan)


# -- local signing through the CLI ------------------------------------------------------------


def test_signed_with_an_ed25519_key_file_and_verified(world: World) -> None:
    start_go(world)
    signed = run_cli(
        "signoff",
        "go",
        "--journal",
        str(world.journal),
        "--by",
        "cleo",
        "--sign-with",
        str(world.keys["cleo"].private),
    )
    assert signed.returncode == 0, signed.stderr
    assert "signed with SHA256:" in signed.stdout
    [payload] = events(world.journal, "step.signed_off")
    statement = Statement.parse(payload["signed"]["statement"])
    assert (statement.step, statement.person, statement.role) == ("go", "cleo", "client-observer")
    assert payload["signed"]["sshsig"].startswith("U1NIU0lH")  # "SSHSIG", one base64 line
    verified = run_cli("verify", str(world.journal))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 signed sign-off(s)" in verified.stdout


def test_rsa_key_signs_with_sha2_512(world: World) -> None:
    start_go(world, by="nia")
    signed = run_cli(
        "signoff",
        "backup",
        "--journal",
        str(world.journal),
        "--by",
        "lena",
        "--sign-with",
        str(world.keys["lena"].private),
    )
    # backup is not running: the ordinary rule answers before any signature
    assert signed.returncode == 1 and "in progress" in signed.stderr
    signed = run_cli(
        "signoff",
        "go",
        "--journal",
        str(world.journal),
        "--by",
        "lena",
        "--role",
        "lead",
        "--sign-with",
        str(world.keys["lena"].private),
    )
    assert signed.returncode == 0, signed.stderr
    [payload] = events(world.journal, "step.signed_off")
    from cutover_console.signoffs import sshsig

    sig = sshsig.parse(sshsig.armor(base64.b64decode(payload["signed"]["sshsig"])))
    assert sig.signature_algorithm == "rsa-sha2-512"


def test_optional_signature_and_the_report_says_how_each_was_given(tmp_path: Path) -> None:
    keys = {"cleo": keygen(tmp_path / "k", "cleo"), "lena": keygen(tmp_path / "k", "lena")}
    plan = signed_plan(tmp_path, keys, mode="recorded")
    journal = tmp_path / "j.sqlite"
    assert run_cli("init", str(plan), "--journal", str(journal), "--by", "lena").returncode == 0
    started = run_cli("step", "start", "go", "-j", str(journal), "--by", "nia", "--override", "t")
    assert started.returncode == 0, started.stderr
    signed = run_cli(
        "signoff",
        "go",
        "-j",
        str(journal),
        "--by",
        "cleo",
        "--sign-with",
        str(keys["cleo"].private),
    )
    assert signed.returncode == 0, signed.stderr
    plain = run_cli("signoff", "go", "-j", str(journal), "--by", "lena", "--role", "lead")
    assert plain.returncode == 0, plain.stderr  # elsewhere a signature is optional
    report = tmp_path / "r.md"
    assert run_cli("report", "--journal", str(journal), "-o", str(report)).returncode == 0
    text = report.read_text()
    assert f"signed by cleo's key {keys['cleo'].fingerprint}" in text
    assert "recorded by the lead" in text


def test_signoffs_signed_without_a_signature_names_the_command(world: World) -> None:
    start_go(world)
    plain = run_cli("signoff", "go", "--journal", str(world.journal), "--by", "cleo")
    assert plain.returncode == 1
    assert "needs a sign-off signed with cleo's own SSH key" in plain.stderr
    assert "cutover signoff go --by cleo --sign-with" in plain.stderr
    assert events(world.journal, "step.signed_off") == []


def test_asyncssh_cannot_sign_sshsig_with_an_agent_key_so_we_build_it(world: World) -> None:
    import asyncssh

    from cutover_console.signoffs import sshsig

    with ssh_agent(world.folder) as env:
        ssh_add(env, world.keys["cleo"])

        async def held() -> list:
            async with asyncssh.connect_agent(env["SSH_AUTH_SOCK"]) as agent:
                keys = await agent.get_keys()
                with pytest.raises(RuntimeError):  # create_sshsig calls the synchronous sign
                    asyncssh.create_sshsig(keys[0], b"x", namespace=NAMESPACE)
                return [await sshsig.sign_with_agent(keys[0], b"hello\n", NAMESPACE)]

        [armored] = asyncio.run(held())
        checked = sshsig.verify(b"hello\n", armored, NAMESPACE)
        assert checked.key.line == world.keys["cleo"].line
        # and the stock verifier agrees
        (world.folder / "msg").write_bytes(b"hello\n")
        (world.folder / "msg.sig").write_bytes(armored)
        (world.folder / "allowed").write_text(
            f'cleo namespaces="{NAMESPACE}" {world.keys["cleo"].line}\n'
        )
        stock = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                str(world.folder / "allowed"),
                "-I",
                "cleo",
                "-n",
                NAMESPACE,
                "-s",
                str(world.folder / "msg.sig"),
            ],
            input=b"hello\n",
            capture_output=True,
        )
        assert stock.returncode == 0, stock.stderr

        start_go(world)
        signed = run_cli(
            "signoff",
            "go",
            "--journal",
            str(world.journal),
            "--by",
            "cleo",
            "--sign-with",
            str(world.keys["cleo"].public),
            env=env,
        )
        assert signed.returncode == 0, signed.stderr
    no_agent = run_cli(
        "signoff",
        "go",
        "--journal",
        str(world.journal),
        "--by",
        "lena",
        "--role",
        "lead",
        "--sign-with",
        str(world.keys["lena"].public),
        env={"SSH_AUTH_SOCK": ""},
    )
    assert no_agent.returncode == 1 and "no ssh-agent runs" in no_agent.stderr


# -- the rules, on a Cutover with a manual clock ----------------------------------------------


@pytest.fixture
def driven(world: World, clock: ManualClock) -> Iterator[tuple[Cutover, World]]:
    document = load_plan(world.plan)
    journal = world.folder / "driven.sqlite"
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
    try:
        yield cutover, world
    finally:
        writer.close()


def sign(world: World, who: str, text: str, namespace: str = NAMESPACE) -> str:
    path = world.folder / f"s-{who}-{abs(hash(text))}.txt"
    path.write_text(text)
    return stock_sign(world.keys[who].private, path, namespace).read_text()


def refused(cutover: Cutover, by: str, presented: Presented, step: str = "go") -> str:
    with pytest.raises(ActionRefused) as caught:
        cutover.signoff(step, by, signed=presented)
    return str(caught.value)


def test_refused_forged_statement(driven: tuple[Cutover, World]) -> None:
    cutover, world = driven
    text = cutover.signoff_statement("go", "cleo")
    forged = text.replace("issued 2026-12-05T13:00:00Z", "issued 2026-12-05T13:30:00Z")
    assert forged != text
    assert "not issued by this journal service" in refused(
        cutover, "cleo", Presented(forged, sign(world, "cleo", forged))
    )
    # signed text differing from the presented one
    assert "does not match the statement" in refused(
        cutover, "cleo", Presented(text, sign(world, "cleo", text + "x"))
    )


def test_refused_wrong_namespace(driven: tuple[Cutover, World]) -> None:
    cutover, world = driven
    text = cutover.signoff_statement("go", "cleo")
    message = refused(cutover, "cleo", Presented(text, sign(world, "cleo", text, "file")))
    assert "namespace 'file', not 'sign-off@cutover-console'" in message


def test_refused_another_persons_key(driven: tuple[Cutover, World]) -> None:
    cutover, world = driven
    text = cutover.signoff_statement("go", "cleo")
    assert "signed with lena's key" in refused(
        cutover, "cleo", Presented(text, sign(world, "lena", text))
    )
    assert "a key the plan does not list" not in refused(
        cutover, "cleo", Presented(text, sign(world, "lena", text))
    )


def test_refused_replays(driven: tuple[Cutover, World]) -> None:
    cutover, world = driven
    cutover.start("freeze", "omar")
    text = cutover.signoff_statement("go", "cleo")
    signature = sign(world, "cleo", text)
    cutover.signoff("go", "cleo", signed=Presented(text, signature))
    # twice (in the step's next run: in this one, cleo has signed already)
    cutover.fail("go", "nia", "again")
    cutover.reopen("go", "lena", "again")
    cutover.start("go", "nia", override="test")
    message = refused(cutover, "cleo", Presented(text, signature))
    assert "replayed: this statement was already signed off (event" in message
    # an earlier statement, unused, issued before the step's current run
    earlier = cutover.signoff_statement("go", "cleo")
    cutover.fail("go", "nia", "again")
    cutover.reopen("go", "lena", "again")
    cutover.start("go", "nia", override="test")
    assert "issued before the step's current run" in refused(
        cutover, "cleo", Presented(earlier, sign(world, "cleo", earlier))
    )


def test_refused_replay_on_another_step(driven: tuple[Cutover, World], clock: ManualClock) -> None:
    cutover, world = driven
    cutover.start("freeze", "omar")
    cutover.complete("freeze", "omar")
    cutover.start("backup", "dmitri")
    text = cutover.signoff_statement("go", "lena", role="lead")
    message = refused(cutover, "lena", Presented(text, sign(world, "lena", text)), step="backup")
    assert "replayed: the statement is for step 'go', not 'backup'" in message


def test_refused_expired(driven: tuple[Cutover, World], clock: ManualClock) -> None:
    cutover, world = driven
    text = cutover.signoff_statement("go", "cleo")
    clock.advance(timedelta(minutes=16))
    assert "the statement expired" in refused(
        cutover, "cleo", Presented(text, sign(world, "cleo", text))
    )


def test_refused_when_evidence_changed(driven: tuple[Cutover, World]) -> None:
    cutover, world = driven
    text = cutover.signoff_statement("go", "cleo")
    cutover.record_gate("go", "authority-new", True, "new everywhere", {"servers": 2})
    message = refused(cutover, "cleo", Presented(text, sign(world, "cleo", text)))
    assert "gate evidence changed since the statement was issued" in message
    fresh = cutover.signoff_statement("go", "cleo")
    event = cutover.signoff("go", "cleo", signed=Presented(fresh, sign(world, "cleo", fresh)))
    assert event.payload["signed"]["key"].startswith("SHA256:")


def test_refused_self_approval_by_key(driven: tuple[Cutover, World]) -> None:
    cutover, world = driven
    # nia runs go; cleo's sign-off signed with nia's key is self-approval by key
    text = cutover.signoff_statement("go", "cleo")
    message = refused(cutover, "cleo", Presented(text, sign(world, "nia", text)))
    assert "self-approval refused: signed with the key of nia" in message


def test_verify_checks_each_signature_against_the_plan_in_force(
    driven: tuple[Cutover, World],
) -> None:
    cutover, world = driven
    text = cutover.signoff_statement("go", "cleo")
    cutover.signoff("go", "cleo", signed=Presented(text, sign(world, "cleo", text)))
    # a later revision removes cleo's key: the earlier sign-off still verifies
    revised = world.plan.read_text().replace('"file:keys/cleo.pub"', "").replace(", keys: []", "")
    world.plan.write_text(revised)
    assert cutover.revise_plan(load_plan(world.plan), "lena", "cleo's laptop was replaced")
    with JournalReader(cutover.writer.path) as reader:
        found, problem = check_journal(list(reader.events()))
    assert problem is None and [s.person for s in found] == ["cleo"]


def test_hostile_namespace_in_a_signature_reaches_the_refusal_inert(
    driven: tuple[Cutover, World],
) -> None:
    from hostile import CORPUS, forbidden_in

    from cutover_console.signoffs import sshsig

    cutover, world = driven
    text = cutover.signoff_statement("go", "cleo")
    real = sshsig.parse(sign(world, "cleo", text).encode())
    for name, (hostile, shown) in CORPUS.items():
        if name == "html":
            continue
        armored = sshsig.wrap(real.key.blob, hostile[:50], "sha512", real.signature).decode()
        message = refused(cutover, "cleo", Presented(text, armored))
        assert forbidden_in(message) == [], name
        assert shown[:20] in message, (name, message)


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_sshsig_of_every_key_type_verifies_and_tampering_fails(tmp_path: Path, kind: str) -> None:
    from cutover_console.signoffs import sshsig

    key = keygen(tmp_path, kind, kind)
    (tmp_path / "m").write_text("statement\n")
    armored = stock_sign(key.private, tmp_path / "m").read_bytes()
    assert sshsig.verify(b"statement\n", armored, NAMESPACE).key.line == key.line
    with pytest.raises(sshsig.SignatureInvalid, match="does not match"):
        sshsig.verify(b"statemenT\n", armored, NAMESPACE)


def test_a_signature_that_looks_like_a_secret_to_the_redactor_survives_the_journal(
    driven: tuple[Cutover, World],
) -> None:
    """The journal blanks `pwd…=VALUE` shapes in payloads; an armored SSHSIG's line break after
    its base64 padding can look like one (about one signature in a thousand, found by the
    benchmark). Signatures are stored as one base64 line, which the shapes cannot match."""
    import asyncssh

    from cutover_console.secrets import redacted
    from cutover_console.signoffs import sshsig

    cutover, world = driven
    key = asyncssh.read_private_key(str(world.keys["cleo"].private))
    for _ in range(20_000):
        text = cutover.signoff_statement("go", "cleo")
        armored = sshsig.sign(key, text.encode(), NAMESPACE).decode()
        if redacted({"s": armored})["s"] != armored:
            break
    else:
        pytest.fail("no signature looking like a secret was found")
    cutover.signoff("go", "cleo", signed=Presented(text, armored))
    with JournalReader(cutover.writer.path) as reader:
        found, problem = check_journal(list(reader.events()))
    assert problem is None and len(found) == 1


def test_hostile_key_text_in_the_plan_is_reported_inert(tmp_path: Path) -> None:
    from hostile import CORPUS, forbidden_in

    cleo = keygen(tmp_path / "k", "cleo")
    plan = signed_plan(tmp_path, {"cleo": cleo})
    text = plan.read_text()
    for name, (hostile, _shown) in CORPUS.items():
        if name in ("html", "c1-csi"):
            continue
        escaped = hostile.encode("unicode_escape").decode().replace('"', '\\\\"')
        plan.write_text(text.replace('"file:keys/cleo.pub"', f'"{escaped} AAAA"'))
        checked = run_cli("check", str(plan))
        assert checked.returncode == 2, (name, checked.stderr)
        assert "is not a public key type" in checked.stderr, (name, checked.stderr)
        assert forbidden_in(checked.stderr) == [], (name, checked.stderr)
