"""The signed sign-offs of an export, as files a client checks with OpenSSH alone.

A bundle whose journal holds signed sign-offs has a `signoffs/` folder: each statement
(`SEQ.txt`, SEQ the sign-off's event), its signature (`SEQ.txt.sig`) and an `allowed_signers`
generated from the plan: every key the plan listed for a person, with
`namespaces="sign-off@cutover-console"`. VERIFY.md lists, for each, the stock command

    ssh-keygen -Y verify -f allowed_signers -I PERSON -n sign-off@cutover-console \\
        -s SEQ.txt.sig < SEQ.txt

All of it is derived from the journal, so `cutover verify` rebuilds it and compares bytes: a
tampered statement, signature or allowed_signers is caught there and by ssh-keygen.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, timedelta

from ..journal import events as ev
from ..journal.chain import Event
from ..plan.keys import KeySyntaxError, parse_key
from ..signoffs.statement import NAMESPACE
from ..signoffs.verdict import SignedSignOff, check_journal, plan_keys, plan_of
from ..timestamps import parse_ts

FOLDER = "signoffs"
MAX_FILES = 3 * 1000 + 1  # a statement and a signature per sign-off, and allowed_signers


class SignOffFilesProblem(Exception):
    """A signed sign-off in the journal does not hold (names the event)."""


def statement_name(seq: int) -> str:
    return f"{FOLDER}/{seq:012d}.txt"


def signoff_files(events: Iterable[Event]) -> tuple[dict[str, bytes], list[SignedSignOff]]:
    """`signoffs/…` name → bytes (empty when nothing is signed), and the signed sign-offs."""
    events = list(events)
    found, problem = check_journal(events)
    if problem is not None:
        raise SignOffFilesProblem(f"signed sign-off at {problem}")
    if not found:
        return {}, []
    files: dict[str, bytes] = {}
    for signed in found:
        name = statement_name(signed.seq)
        files[name] = signed.statement.encode("utf-8")
        files[f"{name}.sig"] = signed.signature.encode("utf-8")
    files[f"{FOLDER}/allowed_signers"] = allowed_signers(events).encode("utf-8")
    return files, found


def allowed_signers(events: Iterable[Event]) -> str:
    """Every key any revision of the plan listed, under its person, in first-listed order, with
    the time it was listed from (valid-after, when a revision added it) and until (valid-before,
    when a later revision removed it): with `-O verify-time=` set to a sign-off's time,
    ssh-keygen checks the key as the plan stood then, like `cutover verify`. A key removed and
    listed again is valid over the whole span."""
    keys: dict[bytes, tuple[str, str]] = {}  # blob -> (person, key line), first-listed order
    after: dict[bytes, str] = {}
    before: dict[bytes, str] = {}
    listed: set[bytes] = set()
    for event in events:
        if event.kind not in (ev.JOURNAL_CREATED, ev.PLAN_REVISED):
            continue
        now: set[bytes] = set()
        plan = plan_of(event)
        for person, lines in (plan_keys(plan) if plan is not None else {}).items():
            for line in lines:
                try:
                    blob = parse_key(line).blob
                except KeySyntaxError:
                    continue  # a recorded key that does not parse verifies nothing
                now.add(blob)
                if blob not in keys:
                    keys[blob] = (person, line)
                    if event.kind == ev.PLAN_REVISED:
                        after[blob] = ssh_time(event.ts, up=False)
        for blob in listed - now:
            before[blob] = ssh_time(event.ts, up=True)
        for blob in now & set(before):
            del before[blob]  # listed again
        listed = now
    out = []
    for blob, (person, line) in keys.items():
        options = f'namespaces="{NAMESPACE}"'
        if blob in after:
            options += f',valid-after="{after[blob]}"'
        if blob in before:
            options += f',valid-before="{before[blob]}"'
        out.append(f"{person} {options} {line}\n")
    return "".join(out)


def ssh_time(ts: str, *, up: bool) -> str:
    """A journal timestamp as OpenSSH writes times (`YYYYMMDDHHMMSSZ`, UTC), to the second:
    rounded up for a `valid-before`, down for the rest."""
    when = parse_ts(ts)
    if up and when.microsecond:
        when += timedelta(seconds=1)
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def verify_section(found: list[SignedSignOff]) -> str:
    """VERIFY.md's part on signed sign-offs (empty when there are none)."""
    if not found:
        return ""
    commands = "\n".join(
        f"    # event {s.seq}: {s.person} signed off '{s.step}' with {s.fingerprint}\n"
        f"    ssh-keygen -Y verify -f allowed_signers -I {s.person} -n {NAMESPACE} \\\n"
        f"        -O verify-time={ssh_time(s.ts, up=False)} "
        f"-s {s.seq:012d}.txt.sig < {s.seq:012d}.txt"
        for s in found
    )
    return f"""
## Signed sign-offs

{len(found)} sign-off(s) were signed with the signer's own SSH key. Each statement and its
signature are in `signoffs/`, with an `allowed_signers` generated from the plan (every key it
listed for each person, for the namespace `{NAMESPACE}`, valid from the revision that listed
it until the one that removed it; `-O verify-time` is the sign-off's time, so each key is
checked as the plan stood then; OpenSSH 8.7 or later). In `signoffs/`:

{commands}

Each must say "Good" and name the person, and the statement's `step` and `person` lines must be
the step and person named above it. A statement names the cutover, the journal (the hash of its
first event), the step, the role, the person, the digest of the gate evidence frozen for the
sign-off, the journal head and the time it was issued (its format is in the README).
`cutover verify` also checks each signature against the keys of the plan revision in force at
the sign-off's event.
"""
