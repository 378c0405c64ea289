"""Fold snapshots: the state fold of a journal at some head, saved beside it, so that a console or a
watcher starts on a long journal without replaying every event.

A snapshot is derived and outside the hash chain; it is a cache, never evidence (`cutover verify`,
reports and status fold from scratch). It is used only when everything about it checks out:

- its format version and the fold's code (a digest of the modules the fold is made of) are this
  program's;
- the journal's event 1 and its event at the snapshot's head carry the hashes the snapshot names
  (same journal, same history up to there: each hash commits to everything before it);
- the plan it was folded with is read again from the journal itself (the event that set it), and
  its digest matches;
- the file is a regular file of at most the journal's size, owned by this account or the
  journal's, writable by nobody else;
- every field decodes to exactly the type the fold holds there.

Anything else (missing, damaged, hostile, stale) is a full fold, never an error. The format is
JSON (no pickle: a snapshot is read by other accounts' processes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import stat
import sys
import tempfile
import types
import typing
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..journal import JournalError, JournalReader
from ..journal import events as ev
from ..plan import load_plan_text
from . import fold, signals
from .fold import CutoverState

log = logging.getLogger("cutover.snapshot")

FORMAT = "cutover-fold-snapshot"
VERSION = 1
SUFFIX = ".fold"
# below this many events a full fold takes milliseconds: no file is worth leaving behind
MIN_EVENTS = 2_000


class SnapshotInvalid(ValueError):
    """The snapshot cannot be used (the reason says why); the caller folds from scratch."""


def _fold_code(modules: set[str]) -> str:
    """A digest of the code the state is made by (the fold, the modules of every type it holds,
    the payload upgrades, this codec): any change to it retires every snapshot."""
    digest = hashlib.sha256(f"{FORMAT}/{VERSION}".encode())
    for name in sorted(modules | {fold.__name__, signals.__name__, ev.__name__, __name__}):
        try:
            digest.update(Path(str(sys.modules[name].__file__)).read_bytes())
        except (KeyError, OSError, TypeError):
            return ""  # code of unknown identity: no snapshot is ever trusted
    return digest.hexdigest()[:32]


def snapshot_path(journal: Path) -> Path:
    """Where the snapshot of `journal` lives: beside it, `<journal>.fold`."""
    return journal.with_name(journal.name + SUFFIX)


# -- the codec: driven by the fold's own type hints ---------------------------------------------
_Enc = Callable[[Any], Any]
_Dec = Callable[[Any], Any]


def _bad(what: str) -> SnapshotInvalid:
    return SnapshotInvalid(f"not a valid {what}")


def _enc_any(x: Any) -> Any:
    """JSON values as they are; datetimes, tuples and dicts with `$` keys tagged (exact)."""
    t = type(x)
    if x is None or t is str or t is int or t is float or t is bool:
        return x
    if t is dict:
        if all(type(k) is str and k[:1] != "$" for k in x):
            return {k: _enc_any(v) for k, v in x.items()}
        if not all(type(k) is str for k in x):
            raise TypeError("a dict key that is not a string")
        return {"$d": [[k, _enc_any(v)] for k, v in x.items()]}
    if t is list:
        return [_enc_any(v) for v in x]
    if t is datetime:
        return {"$t": x.isoformat()}
    if t is tuple:
        return {"$u": [_enc_any(v) for v in x]}
    raise TypeError(f"cannot snapshot a {t.__name__}")


def _dec_any(x: Any) -> Any:
    t = type(x)
    if x is None or t is str or t is int or t is float or t is bool:
        return x
    if t is list:
        return [_dec_any(v) for v in x]
    if t is not dict:
        raise _bad("value")
    if any(k[:1] == "$" for k in x):
        if len(x) != 1:
            raise _bad("tagged value")
        ((tag, body),) = x.items()
        if tag == "$t" and type(body) is str:
            return datetime.fromisoformat(body)
        if tag == "$u" and type(body) is list:
            return tuple(_dec_any(v) for v in body)
        if tag == "$d" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                    raise _bad("tagged dict")
                out[pair[0]] = _dec_any(pair[1])
            return out
        raise _bad("tagged value")
    return {k: _dec_any(v) for k, v in x.items()}


def _scalar(kind: type) -> tuple[_Enc, _Dec]:
    def dec(x: Any) -> Any:
        if type(x) is not kind:
            raise _bad(kind.__name__)
        return x

    return (lambda x: x), dec


def _datetime() -> tuple[_Enc, _Dec]:
    def dec(x: Any) -> datetime:
        if type(x) is not str:
            raise _bad("time")
        return datetime.fromisoformat(x)

    return (lambda x: x.isoformat()), dec


def _codec(tp: Any) -> tuple[_Enc, _Dec]:
    """Encoder and checking decoder for a type as the fold annotates it."""
    if tp is Any:
        return _enc_any, _dec_any
    if tp in (str, int, bool, float):
        return _scalar(tp)
    if tp is datetime:
        return _datetime()
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"unsupported union {tp}")
        enc, dec = _codec(inner[0])
        return (lambda x: None if x is None else enc(x)), (lambda x: None if x is None else dec(x))
    if origin is typing.Literal:
        allowed = frozenset(args)

        def dec_literal(x: Any) -> Any:
            if type(x) is not str or x not in allowed:
                raise _bad("choice")
            return x

        return (lambda x: x), dec_literal
    if origin is list:
        (item,) = args
        if item is int:  # step histories: many ints, checked in one pass

            def dec_ints(x: Any) -> list[int]:
                if type(x) is not list or not all(type(v) is int for v in x):
                    raise _bad("list of numbers")
                return list(x)

            return list, dec_ints
        enc, dec = _codec(item)

        def dec_list(x: Any) -> list[Any]:
            if type(x) is not list:
                raise _bad("list")
            return [dec(v) for v in x]

        return (lambda x: [enc(v) for v in x]), dec_list
    if origin is dict:
        key, value = args
        enc, dec = _codec(value)
        if key is str:

            def dec_dict(x: Any) -> dict[str, Any]:
                if type(x) is not dict:
                    raise _bad("mapping")
                return {k: dec(v) for k, v in x.items()}

            return (lambda x: {k: enc(v) for k, v in x.items()}), dec_dict
        if typing.get_origin(key) is tuple and all(a is str for a in typing.get_args(key)):
            width = len(typing.get_args(key))

            def dec_pairs(x: Any) -> dict[tuple[str, ...], Any]:
                if type(x) is not list:
                    raise _bad("mapping")
                out = {}
                for pair in x:
                    if (
                        type(pair) is not list
                        or len(pair) != 2
                        or type(pair[0]) is not list
                        or len(pair[0]) != width
                        or not all(type(k) is str for k in pair[0])
                    ):
                        raise _bad("mapping entry")
                    out[tuple(pair[0])] = dec(pair[1])
                return out

            return (lambda x: [[list(k), enc(v)] for k, v in x.items()]), dec_pairs
        raise TypeError(f"unsupported mapping {tp}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp)
    raise TypeError(f"unsupported type {tp}")


def _fields(cls: type, skip: frozenset[str] = frozenset()) -> tuple[_Enc, _Dec]:
    """A dataclass's fields as the list of their values, in declaration order; decoded to the
    keyword arguments that construct it."""
    _MODULES.add(cls.__module__)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    pairs = [(name, _codec(hints[name])) for name in names]

    def enc(x: Any) -> list[Any]:
        return [c[0](getattr(x, n)) for n, c in pairs]

    def dec(x: Any) -> dict[str, Any]:
        if type(x) is not list or len(x) != len(pairs):
            raise _bad(cls.__name__)
        return {n: c[1](v) for (n, c), v in zip(pairs, x, strict=True)}

    return enc, dec


def _dataclass(cls: type) -> tuple[_Enc, _Dec]:
    enc, _ = _fields(cls)
    hints = typing.get_type_hints(cls)
    if any(not f.init or f.kw_only for f in dataclasses.fields(cls)):
        raise TypeError(f"{cls.__name__} is not built from its fields in order")
    decs = [_codec(hints[f.name])[1] for f in dataclasses.fields(cls)]
    width = len(decs)

    def dec(x: Any) -> Any:  # positional: thousands of notes, so no dict of keywords each
        if type(x) is not list or len(x) != width:
            raise _bad(cls.__name__)
        return cls(*[d(v) for d, v in zip(decs, x, strict=True)])

    return enc, dec


_MODULES: set[str] = set()  # where the fold's types are defined, for the code digest


def _state_codec() -> tuple[_Enc, _Dec] | None:
    """The CutoverState codec, without its plan (read back from the journal); None when the
    fold holds a type this codec does not know (then snapshots are simply not used)."""
    try:
        return _fields(CutoverState, skip=frozenset({"document"}))
    except (TypeError, NameError, ValueError) as exc:
        log.warning("fold snapshots are off: %s", exc)
        return None


_CODEC = _state_codec()
FOLD_CODE = _fold_code(_MODULES) if _CODEC is not None else ""


# -- the journal's side of the check ------------------------------------------------------------
def _hashes(reader: JournalReader, *seqs: int) -> dict[int, str]:
    try:
        rows = reader.conn.execute(
            f"SELECT seq, hash FROM events WHERE seq IN ({','.join('?' * len(seqs))})", seqs
        ).fetchall()
    except sqlite3.Error:
        return {}
    return {int(seq): digest for seq, digest in rows if isinstance(seq, int)}


def _plan_seq(state: CutoverState) -> int:
    """The event that set the plan in force: the latest revision, or journal.created."""
    return int(state.revisions[-1]["seq"]) if state.revisions else 1


# -- writing ---------------------------------------------------------------------------------
def save_snapshot(
    reader: JournalReader, state: CutoverState, *, min_events: int = MIN_EVENTS
) -> Path | None:
    """Write the snapshot of `state` beside the reader's journal (atomically: a reader sees the
    old file or the new one). Best effort: returns None, writing nothing, when the journal is
    short, the state is not the journal's, or the folder is not writable."""
    codec = _CODEC
    if codec is None or not FOLD_CODE or state.head_seq < max(1, min_events):
        return None
    hashes = _hashes(reader, 1, state.head_seq)
    if hashes.get(state.head_seq) != state.head_hash or 1 not in hashes:
        return None  # not a fold of this journal's history
    try:
        body = {
            "format": FORMAT,
            "version": VERSION,
            "fold_code": FOLD_CODE,
            "cutover_id": state.plan.cutover.id,
            "first_hash": hashes[1],
            "head_seq": state.head_seq,
            "head_hash": state.head_hash,
            "plan": {"seq": _plan_seq(state), "sha256": state.document.sha256},
            "state": codec[0](state),
        }
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        log.info("no fold snapshot written: %s", exc)
        return None
    journal = reader.path
    target = snapshot_path(journal)
    tmp = ""
    try:
        mode = stat.S_IMODE(journal.stat().st_mode) & 0o644 | 0o600
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=journal.parent)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        log.info("no fold snapshot written beside %s: %s", journal, exc)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return None
    return target


# -- reading ---------------------------------------------------------------------------------
def _read_trusted(path: Path, journal: Path) -> bytes:
    """The file's bytes, if it may be trusted as a cache at all."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SnapshotInvalid("none") from None
    except OSError as exc:
        raise SnapshotInvalid(f"cannot be opened: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        journal_info = journal.stat()
        limit = journal_info.st_size + (1 << 20)
        if not stat.S_ISREG(info.st_mode):
            raise SnapshotInvalid("not a regular file")
        if info.st_uid not in (os.getuid(), journal_info.st_uid):
            raise SnapshotInvalid("owned by another account")
        if info.st_mode & 0o022:
            raise SnapshotInvalid("writable by other accounts")
        if info.st_size > limit:
            raise SnapshotInvalid("larger than its journal")
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise SnapshotInvalid(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SnapshotInvalid("larger than its journal")
    return data


def load_snapshot(reader: JournalReader, path: Path | None = None) -> CutoverState:
    """The state the snapshot holds, checked against the journal; SnapshotInvalid otherwise. Its
    head may be behind the journal's: the caller folds the rest in."""
    codec = _CODEC
    if codec is None or not FOLD_CODE:
        raise SnapshotInvalid("snapshots are off for this code")
    data = _read_trusted(path or snapshot_path(reader.path), reader.path)
    # a JSON bomb is bounded before parsing: `{}` is 2 bytes of file and ~64 of memory, so the
    # containers are counted (a fold holds a few per event, beyond what the payloads hold)
    last = reader.head()
    containers = data.count(b"{") + data.count(b"[")
    if containers > 16 * (last.seq if last else 0) + 100_000:
        raise SnapshotInvalid("it holds more values than its journal could make")
    try:
        body = json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise SnapshotInvalid("not JSON") from None
    if type(body) is not dict or body.get("format") != FORMAT:
        raise SnapshotInvalid("not a fold snapshot")
    if body.get("version") != VERSION or body.get("fold_code") != FOLD_CODE:
        raise SnapshotInvalid("made by other code")
    head, head_hash, first_hash = (
        body.get("head_seq"),
        body.get("head_hash"),
        body.get("first_hash"),
    )
    plan = body.get("plan")
    if not (
        type(head) is int
        and head >= 1
        and type(head_hash) is str
        and type(first_hash) is str
        and type(plan) is dict
        and type(plan.get("seq")) is int
        and 1 <= plan["seq"] <= head
        and type(plan.get("sha256")) is str
    ):
        raise SnapshotInvalid("its header is damaged")
    hashes = _hashes(reader, 1, head)
    if hashes.get(1) != first_hash:
        raise SnapshotInvalid("it belongs to another journal")
    if hashes.get(head) != head_hash:
        raise SnapshotInvalid(f"the journal's event {head} is not the one it was made at")
    plan_event = next(iter(reader.events(after=plan["seq"] - 1)), None)
    if (
        plan_event is None
        or plan_event.seq != plan["seq"]
        or plan_event.kind not in (ev.JOURNAL_CREATED, ev.PLAN_REVISED)
    ):
        raise SnapshotInvalid("its plan event is not a plan")
    text, file = plan_event.payload["plan"]["text"], plan_event.payload["plan"].get("file")
    document = load_plan_text(text, file or "<journal>")
    if document.sha256 != plan["sha256"]:
        raise SnapshotInvalid("its plan is not the journal's")
    try:
        fields = codec[1](body.get("state"))
    except (SnapshotInvalid, TypeError, ValueError, KeyError, OverflowError, RecursionError):
        raise SnapshotInvalid("its state is damaged") from None
    state = CutoverState(document=document, **fields)
    if state.head_seq != head or state.head_hash != head_hash:
        raise SnapshotInvalid("its state is not at its head")
    state._sync_steps()
    return state


def resume_state(reader: JournalReader, state: CutoverState | None = None) -> CutoverState:
    """The journal's state at its head, the quickest way that can be trusted: from `state`
    (a fold already in memory, e.g. a warm parent's), else from the snapshot beside the journal,
    else from scratch; then the events after it are folded in."""
    if state is not None:
        if _hashes(reader, state.head_seq).get(state.head_seq) == state.head_hash:
            return catch_up(reader, state)
        log.info("the fold in memory is not this journal's history: folding from scratch")
    else:
        try:
            return catch_up(reader, load_snapshot(reader))
        except SnapshotInvalid as why:
            if str(why) != "none":
                log.info("fold snapshot beside %s not used: %s", reader.path, why)
        except JournalError:
            raise
        except Exception as exc:  # a hostile file must never stop a view from starting
            log.warning("fold snapshot beside %s not used: %s", reader.path, exc)
    return CutoverState.from_events(reader.events())


def catch_up(reader: JournalReader, state: CutoverState) -> CutoverState:
    """Fold in the events after the state's head."""
    for event in reader.events(after=state.head_seq):
        state.apply(event)
    return state


__all__ = [
    "FOLD_CODE",
    "SnapshotInvalid",
    "catch_up",
    "load_snapshot",
    "resume_state",
    "save_snapshot",
    "snapshot_path",
]
