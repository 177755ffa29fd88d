"""The replicated key-value state machine: get, put, delete, compare-and-set, with client sessions.

Commands travel through the Raft log as msgpack-encoded ``Command`` values. Every replica applies
the same commands in the same order, so every replica computes the same results; the leader's
result is what the client sees.

Exactly-once (dissertation §6.3): a client that retries a command after a timeout may get it
into the log twice. Each command carries ``(client_id, seq)``; the state machine remembers, per
client, the highest ``seq`` applied and its result, and answers a repeat from that memory instead
of executing it again. A client must therefore have at most one command outstanding per
``client_id`` and use increasing ``seq`` numbers (a process with concurrent requests uses one
client id per concurrent worker). The session table is part of the replicated state: it is in
snapshots, and when it exceeds ``max_sessions`` the least recently used session (by log order,
hence the same on every replica) is forgotten.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import msgpack

from .messages import ENTRY_NORMAL, Entry, Snapshot

Value = str | bytes | int | float | bool | None

OPS = ("get", "put", "delete", "cas")
_VERSION = 1
# What msgpack carries: integers in 64 bits (signed, or unsigned above), nesting it can unpack.
INT_MIN, INT_MAX = -(2**63), 2**64 - 1
MAX_VALUE_DEPTH = 32


def check_value(value: Any) -> None:
    """Raise ValueError unless ``value`` is JSON that a command can carry unchanged: null, a
    boolean, an integer within 64 bits, a finite float, a string, or lists and string-keyed
    objects of these, nested at most ``MAX_VALUE_DEPTH`` deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            raise ValueError(f"nested more than {MAX_VALUE_DEPTH} deep")
        if v is None or isinstance(v, bool | str):
            continue
        if isinstance(v, int):
            if not INT_MIN <= v <= INT_MAX:
                raise ValueError(f"integer out of the 64-bit range: {str(v)[:40]}")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"{v} is not a finite number")
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise ValueError("object keys must be strings")
                stack.append((x, depth + 1))
        else:
            raise ValueError(f"unsupported type {type(v).__name__}")


class CommandError(ValueError):
    """A log entry does not decode to a valid command."""


@dataclass(frozen=True, slots=True)
class Command:
    """One client command.

    - ``get``: read ``key`` through the log (ReadIndex reads use ``KVStore.get`` instead).
    - ``put``: set ``key`` to ``value``.
    - ``delete``: remove ``key``.
    - ``cas``: set ``key`` to ``value`` if its current value equals ``expected``
      (``expected=None`` means "only if absent").
    """

    op: str
    key: str
    value: Value = None
    expected: Value = None
    client_id: str | None = None
    seq: int = 0

    def encode(self) -> bytes:
        """msgpack bytes for a log entry."""
        return msgpack.packb(
            [_VERSION, self.op, self.key, self.value, self.expected, self.client_id, self.seq],
            use_bin_type=True,
        )

    @staticmethod
    def decode(data: bytes) -> Command:
        """Inverse of ``encode``; ``CommandError`` if malformed."""
        try:
            obj = msgpack.unpackb(data, raw=False)
        except Exception as exc:
            raise CommandError(f"command: not msgpack ({exc})") from exc
        if not isinstance(obj, list) or len(obj) != 7 or obj[0] != _VERSION:
            raise CommandError(f"command: unexpected shape {obj!r:.80}")
        _, op, key, value, expected, client_id, seq = obj
        if op not in OPS:
            raise CommandError(f"command.op: unknown operation {op!r}")
        if not isinstance(key, str):
            raise CommandError(f"command.key: expected a string, got {key!r:.80}")
        if client_id is not None and not isinstance(client_id, str):
            raise CommandError(f"command.client_id: expected a string, got {client_id!r:.80}")
        if not isinstance(seq, int):
            raise CommandError(f"command.seq: expected an integer, got {seq!r:.80}")
        return Command(op, key, value, expected, client_id, seq)


@dataclass(frozen=True, slots=True)
class Result:
    """Outcome of a command.

    ``ok``: get found the key / put and delete succeeded / cas swapped. ``value``: for get, the
    value; for put and delete, the previous value; for cas, the value after the command.
    ``duplicate``: this was a retried command answered from the session table (not executed).
    ``error``: set when the command was refused (stale sequence number, malformed entry).
    """

    ok: bool
    value: Value = None
    error: str | None = None
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (e.g. for a JSON response)."""
        return {"ok": self.ok, "value": self.value, "error": self.error}

    def _pack(self) -> list[Any]:
        return [self.ok, self.value, self.error]


class KVStore:
    """The state machine. ``apply`` each committed entry in log order."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self.data: dict[str, Value] = {}
        # client_id -> (last seq, result of that seq); ordered by last use in log order.
        self.sessions: OrderedDict[str, tuple[int, Result]] = OrderedDict()
        self.max_sessions = max_sessions
        self.applied_index = 0

    def apply(self, entry: Entry) -> Result | None:
        """Apply one committed entry; returns the command's result (None for a no-op)."""
        if entry.index != self.applied_index + 1:
            raise ValueError(f"kv: entry {entry.index} applied after {self.applied_index}")
        self.applied_index = entry.index
        if entry.kind != ENTRY_NORMAL:
            return None
        try:
            cmd = Command.decode(entry.data)
        except CommandError as exc:
            # Every replica rejects it the same way, so the state stays identical.
            return Result(False, error=str(exc))
        return self.apply_command(cmd)

    def apply_command(self, cmd: Command) -> Result:
        """Execute ``cmd`` unless its session says it already ran."""
        if cmd.client_id is not None:
            sess = self.sessions.get(cmd.client_id)
            if sess is not None:
                last_seq, last_result = sess
                if cmd.seq == last_seq:
                    self.sessions.move_to_end(cmd.client_id)
                    return Result(last_result.ok, last_result.value, last_result.error, True)
                if cmd.seq < last_seq:
                    return Result(False, error=f"stale sequence number {cmd.seq} < {last_seq}")
        result = self._execute(cmd)
        if cmd.client_id is not None:
            self.sessions[cmd.client_id] = (cmd.seq, result)
            self.sessions.move_to_end(cmd.client_id)
            while len(self.sessions) > self.max_sessions:
                self.sessions.popitem(last=False)
        return result

    def _execute(self, cmd: Command) -> Result:
        data = self.data
        if cmd.op == "get":
            if cmd.key in data:
                return Result(True, data[cmd.key])
            return Result(False)
        if cmd.op == "put":
            prev = data.get(cmd.key)
            data[cmd.key] = cmd.value
            return Result(True, prev)
        if cmd.op == "delete":
            prev = data.pop(cmd.key, None)
            return Result(True, prev)
        # cas
        current = data.get(cmd.key)
        if current == cmd.expected and (cmd.expected is not None or cmd.key not in data):
            data[cmd.key] = cmd.value
            return Result(True, cmd.value)
        return Result(False, current)

    def get(self, key: str) -> Value:
        """Local read of ``key`` (for reads confirmed by ReadIndex)."""
        return self.data.get(key)

    def snapshot(self) -> bytes:
        """Serialize the whole state (data, sessions, applied index)."""
        sessions = [[cid, seq, res._pack()] for cid, (seq, res) in self.sessions.items()]
        return msgpack.packb([_VERSION, self.applied_index, self.data, sessions], use_bin_type=True)

    def restore(self, data: bytes) -> None:
        """Replace the state with a ``snapshot()``."""
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
        if not isinstance(obj, list) or len(obj) != 4 or obj[0] != _VERSION:
            raise ValueError("kv: not a KV snapshot")
        _, applied, kv, sessions = obj
        self.applied_index = applied
        self.data = dict(kv)
        self.sessions = OrderedDict(
            (cid, (seq, Result(res[0], res[1], res[2]))) for cid, seq, res in sessions
        )

    def restore_snapshot(self, snap: Snapshot) -> None:
        """Restore from a Raft snapshot (``Ready.restore_snapshot``)."""
        self.restore(snap.data)
        if self.applied_index != snap.index:
            raise ValueError(
                f"kv: snapshot claims index {snap.index}, its state is at {self.applied_index}"
            )
