"""The journal service's wire format: one JSON object per frame, each frame a 4-byte big-endian
length then that many bytes of UTF-8.

A request names an operation and its arguments: `{"op": "note", "args": {"text": ..., "by":
...}, "idem": KEY}`. A response is `{"ok": true, "result": {...}}` (for a journaled event: its
seq and hash) or `{"ok": false, "error": {"type": ..., "message": ...}}`. Everything a peer sends
is checked here before it reaches the journal: a frame too big, bytes that are not JSON, an
unknown operation or an argument of the wrong type get a refusal, never a crash.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

MAX_FRAME = 8 * 1024 * 1024  # a revised plan travels whole; the loader caps plans far below this
_HEADER = struct.Struct(">I")

# Every operation and its arguments: name -> (type, required). `dict` arguments are JSON objects.
_STEP: dict[str, tuple[type, bool]] = {"step": (str, True), "by": (str, True)}
OPERATIONS: dict[str, dict[str, tuple[type, bool]]] = {
    "start_step": {**_STEP, "override": (str, False)},
    # confirmed: what the lead was shown and accepted before passing the point of no return
    "complete_step": {**_STEP, "override": (str, False), "confirmed": (str, False)},
    "fail_step": {**_STEP, "reason": (str, False)},
    "skip_step": {**_STEP, "reason": (str, False)},
    "reopen_step": {**_STEP, "reason": (str, False)},
    "rollback_step": {**_STEP, "reason": (str, False), "override": (str, False)},
    # statement + signature: a sign-off signed with the signer's SSH key (signoffs/)
    "signoff": {
        **_STEP,
        "role": (str, False),
        "statement": (str, False),
        "signature": (str, False),
    },
    "signoff_statement": {**_STEP, "role": (str, False)},
    "note": {"text": (str, True), "by": (str, True), "step": (str, False)},
    "override_gate": {**_STEP, "gate": (str, True), "reason": (str, True)},
    # An automated action runs where it was asked for (the person's terminal sees its output);
    # the service checks that it may run, then journals what it did.
    "check_action": dict(_STEP),
    "record_action": {**_STEP, "result": (dict, True)},
    "revise": {
        "plan_text": (str, True),
        "plan_file": (str, True),
        "by": (str, True),
        "reason": (str, False),
    },
    "record_watcher": {"connected": (bool, True), "viewer": (dict, True)},
    # stakeholder updates (issue 22): queue one now (the service's comms engine sends it)
    "comms_send": {
        "by": (str, True),
        "template": (str, False),
        "audience": (str, False),
        "test": (bool, False),
        "no_change": (bool, False),
    },
    "comms_ack": {"message": (str, True), "target": (str, True), "by": (str, True)},
    # what completing a `kind: comms` step would send (`cutover step done` shows it first)
    "comms_step_preview": {"step": (str, True)},
    "status": {},
    "stop": {},
}
# the operations that take an idempotency key (the commands that accept --idempotency-key)
KEYED = frozenset(
    {
        "start_step",
        "complete_step",
        "fail_step",
        "skip_step",
        "reopen_step",
        "rollback_step",
        "signoff",
        "note",
        "override_gate",
    }
)
MAX_IDEM = 200  # characters of an idempotency key


class BadRequest(ValueError):
    """What a peer sent is not a request this service understands."""


class FrameError(ConnectionError):
    """The byte stream broke: a frame too big, or the peer left in the middle of one."""


@dataclass(frozen=True)
class Request:
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    idem: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"op": self.op, "args": self.args}
        if self.idem is not None:
            body["idem"] = self.idem
        return body


def parse_request(body: Any) -> Request:
    """A checked Request from a decoded frame; BadRequest says what is wrong."""
    if type(body) is not dict:
        raise BadRequest("a request is a JSON object")
    op = body.get("op")
    if type(op) is not str or op not in OPERATIONS:
        known = ", ".join(sorted(OPERATIONS))
        shown = op if type(op) is str and len(op) <= 40 else type(op).__name__
        raise BadRequest(f"unknown operation {shown!r} (known: {known})")
    args = body.get("args", {})
    if type(args) is not dict:
        raise BadRequest("'args' is a JSON object")
    spec = OPERATIONS[op]
    for name in args:
        if name not in spec:
            raise BadRequest(f"{op} takes no argument {str(name)[:40]!r}")
    for name, (kind, required) in spec.items():
        value = args.get(name)
        if value is None:
            if required:
                raise BadRequest(f"{op} needs '{name}'")
            continue
        if type(value) is not kind:
            raise BadRequest(f"{op}: '{name}' must be a {_type_name(kind)}")
    for name, value in args.items():
        if not _encodable(value):
            raise BadRequest(
                f"{op}: '{name}' holds a lone surrogate (U+D800 to U+DFFF), which is not text"
            )
    _check_payload(op, args)
    idem = body.get("idem")
    if idem is not None:
        if op not in KEYED:
            raise BadRequest(f"{op} takes no idempotency key")
        if type(idem) is not str or not idem or len(idem) > MAX_IDEM or not _encodable(idem):
            raise BadRequest(f"the idempotency key is a string of 1 to {MAX_IDEM} characters")
    return Request(op, {k: v for k, v in args.items() if v is not None}, idem)


def _encodable(value: Any) -> bool:
    """Whether every string in a decoded JSON value is text UTF-8 can carry: JSON's \\ud800
    escapes decode to lone surrogates, which no journal, log or answer can encode."""
    if type(value) is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if type(value) is dict:
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if type(value) is list:
        return all(_encodable(v) for v in value)
    return True


def _check_payload(op: str, args: dict[str, Any]) -> None:
    """The payloads a peer hands over whole, against their event kind's schema."""
    from ..journal import payloads

    if op == "record_watcher":
        kind = "watcher.connected" if args["connected"] else "watcher.disconnected"
        found = payloads.problem(kind, args["viewer"])
    elif op == "record_action":
        found = payloads.problem("action.ran", args["result"])
    else:
        return
    if found is not None:
        raise BadRequest(f"{op}: {found.removeprefix('its ')}")


def _type_name(kind: type) -> str:
    return {str: "string", bool: "boolean", dict: "JSON object"}.get(kind, kind.__name__)


def encode(body: dict[str, Any]) -> bytes:
    """A frame for `body`; FrameError when it is over the limit. Never fails on text: a lone
    surrogate (quoted from what a peer sent) goes as a JSON escape."""
    try:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        data = json.dumps(body, separators=(",", ":")).encode()
    if len(data) > MAX_FRAME:
        raise FrameError(f"a frame of {len(data)} bytes is over the limit of {MAX_FRAME}")
    return _HEADER.pack(len(data)) + data


def decode(data: bytes) -> Any:
    """The JSON value of a frame's bytes; BadRequest when they are not JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"a frame is not UTF-8 JSON ({type(exc).__name__})") from None


def send_frame(sock: socket.socket, body: dict[str, Any]) -> None:
    sock.sendall(encode(body))


def recv_frame(sock: socket.socket) -> Any:
    """The next frame from a blocking socket, decoded; FrameError when the stream ends."""
    (length,) = _HEADER.unpack(_recv_exactly(sock, _HEADER.size))
    if length > MAX_FRAME:
        raise FrameError(f"a frame of {length} bytes is over the limit of {MAX_FRAME}")
    return decode(_recv_exactly(sock, length))


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise FrameError("the service closed the connection before answering")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
