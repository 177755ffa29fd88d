"""A linearizability checker for key-value histories.

The search is Wing and Gong's, with Lowe's memoisation of (linearized set, state) pairs, as in
Porcupine; and, as there, the history is split per key first (P-compositionality: a history of
independent registers is linearizable iff each register's sub-history is), which turns one
exponential search into many small ones.

History model: each operation has an invocation time and, if it completed, a return time and an
outcome. ``status`` is

* ``"ok"``   it returned, with ``output``;
* ``"fail"`` it definitely did not take effect (the server said so before doing anything):
  dropped from the history;
* ``"info"`` outcome unknown (a timeout, a connection cut mid-request). It may have taken effect
  at any moment after its invocation, or never; we model that as a return time of infinity and
  an output the model accepts whatever it is. "Never" is then covered too: an operation whose
  return is at infinity can always be linearized after everything else, where its effect is
  invisible.

Operations: ``get`` (output: the value or None), ``put`` (value), ``delete``, ``cas`` (expected
value, new value; output True if it swapped, False if not). None stands for "absent".
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

_UNSET: Any = object()


@dataclass
class Operation:
    client: Any
    kind: str  # "get" | "put" | "delete" | "cas"
    key: str
    call: float
    ret: float = math.inf
    value: Any = None  # put's value, cas's new value
    expected: Any = None  # cas's expected value
    output: Any = None  # get's value, cas's success
    status: str = "info"  # "ok" | "fail" | "info"

    def describe(self) -> str:
        arg = {
            "get": "",
            "put": repr(self.value),
            "delete": "",
            "cas": f"{self.expected!r}->{self.value!r}",
        }[self.kind]
        out = "?" if self.status == "info" else repr(self.output)
        end = "inf" if math.isinf(self.ret) else f"{self.ret:.6f}"
        return (
            f"[{self.call:.6f}, {end}] client {self.client}: "
            f"{self.kind}({self.key!r}{', ' + arg if arg else ''}) -> {out}"
        )


@dataclass
class Result:
    ok: bool
    # None if the search finished; otherwise the per-key searches that ran out of time.
    unknown_keys: list[str] = field(default_factory=list)
    bad_key: str | None = None
    # On failure: the largest prefix of the bad key's history that could be linearized, and
    # the operations that could not be placed after it.
    detail: str = ""

    @property
    def verdict(self) -> str:
        if not self.ok:
            return "not linearizable"
        return "unknown (timed out)" if self.unknown_keys else "linearizable"


def step(state: Any, op: Operation) -> tuple[bool, Any]:
    """The sequential specification of one register (state None = absent)."""
    unknown = op.status == "info"
    if op.kind == "get":
        return (unknown or op.output == state), state
    if op.kind == "put":
        return True, op.value
    if op.kind == "delete":
        return True, None
    if op.kind == "cas":
        swapped = state == op.expected
        if unknown:
            return True, (op.value if swapped else state)
        if bool(op.output) != swapped:
            return False, state
        return True, (op.value if swapped else state)
    raise ValueError(f"unknown operation kind {op.kind!r}")


class _Node:
    __slots__ = ("op", "id", "is_call", "match", "prev", "next")

    def __init__(self, op: Operation | None, id: int, is_call: bool) -> None:
        self.op = op
        self.id = id
        self.is_call = is_call
        self.match: _Node | None = None
        self.prev: _Node | None = None
        self.next: _Node | None = None


def _build_list(ops: list[Operation]) -> _Node:
    events: list[tuple[float, int, int, bool]] = []
    for i, op in enumerate(ops):
        # At equal times, calls sort before returns: touching intervals count as concurrent,
        # the lenient reading, since clocks on one machine do not order them more finely.
        events.append((op.call, 0, i, True))
        events.append((op.ret, 1, i, False))
    events.sort(key=lambda e: (e[0], e[1]))
    head = _Node(None, -1, False)
    calls: dict[int, _Node] = {}
    prev = head
    for _, _, i, is_call in events:
        node = _Node(ops[i], i, is_call)
        if is_call:
            calls[i] = node
        else:
            calls[i].match = node
        prev.next = node
        node.prev = prev
        prev = node
    return head


def _lift(call: _Node) -> None:
    call.prev.next = call.next  # type: ignore[union-attr]
    if call.next is not None:
        call.next.prev = call.prev
    ret = call.match
    assert ret is not None
    ret.prev.next = ret.next  # type: ignore[union-attr]
    if ret.next is not None:
        ret.next.prev = ret.prev


def _unlift(call: _Node) -> None:
    ret = call.match
    assert ret is not None
    ret.prev.next = ret  # type: ignore[union-attr]
    if ret.next is not None:
        ret.next.prev = ret
    call.prev.next = call  # type: ignore[union-attr]
    if call.next is not None:
        call.next.prev = call


def check_register(
    ops: list[Operation],
    initial: Any = None,
    deadline: float = math.inf,
    stop: threading.Event | None = None,
) -> tuple[bool | None, str]:
    """Wing–Gong search on one register. Returns (verdict or None if out of time, detail)."""
    if not ops:
        return True, ""
    head = _build_list(ops)
    state = initial
    linearized = 0
    cache: set[tuple[int, Any]] = set()
    stack: list[tuple[_Node, Any]] = []
    best = 0
    best_count = 0
    entry = head.next
    steps = 0
    while head.next is not None:
        steps += 1
        if steps & 0x3FF == 0 and (time.monotonic() > deadline or (stop and stop.is_set())):
            return None, "timed out"
        assert entry is not None
        if entry.is_call:
            ok, new_state = step(state, entry.op)  # type: ignore[arg-type]
            if ok:
                new_lin = linearized | (1 << entry.id)
                key = (new_lin, _freeze(new_state))
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state))
                    state = new_state
                    linearized = new_lin
                    _lift(entry)
                    if len(stack) > best_count:
                        best_count, best = len(stack), linearized
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # A return whose call has not been linearized: nothing later can go first. Undo.
            if not stack:
                return False, _explain(ops, best)
            entry, state = stack.pop()
            linearized &= ~(1 << entry.id)
            _unlift(entry)
            entry = entry.next
    return True, ""


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _explain(ops: list[Operation], best: int) -> str:
    done = [op for i, op in enumerate(ops) if best >> i & 1]
    rest = [op for i, op in enumerate(ops) if not best >> i & 1]
    done.sort(key=lambda o: o.call)
    rest.sort(key=lambda o: o.call)
    lines = [f"linearized {len(done)} of {len(ops)} operations; could not place:"]
    lines += ["  " + op.describe() for op in rest[:10]]
    return "\n".join(lines)


def check(
    history: Iterable[Operation],
    timeout: float | None = None,
    initial: Callable[[str], Any] | None = None,
) -> Result:
    """Check a key-value history. ``timeout`` bounds the whole search in seconds."""
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    by_key: dict[str, list[Operation]] = defaultdict(list)
    for op in history:
        if op.status == "fail":
            continue
        if op.status == "info":
            op = Operation(**{**op.__dict__, "ret": math.inf})
        elif op.ret < op.call:
            raise ValueError(f"operation returns before it is called: {op.describe()}")
        by_key[op.key].append(op)
    unknown: list[str] = []
    # Smallest sub-histories first: a violation in a small one is found, and shown, fast.
    for key in sorted(by_key, key=lambda k: len(by_key[k])):
        verdict, detail = check_register(
            by_key[key], initial(key) if initial else None, deadline=deadline
        )
        if verdict is False:
            return Result(False, unknown, key, f"key {key!r}: {detail}")
        if verdict is None:
            unknown.append(key)
    return Result(True, unknown)


class HistoryRecorder:
    """Thread-safe recorder for client operations, in the invoke/complete style of Jepsen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.ops: list[Operation] = []
        self._lock = threading.Lock()

    def invoke(
        self,
        client: Any,
        kind: str,
        key: str,
        value: Any = None,
        expected: Any = None,
    ) -> Operation:
        op = Operation(client, kind, key, self.clock(), value=value, expected=expected)
        with self._lock:
            self.ops.append(op)
        return op

    def ok(self, op: Operation, output: Any = None) -> None:
        op.ret = self.clock()
        op.output = output
        op.status = "ok"

    def fail(self, op: Operation) -> None:
        op.ret = self.clock()
        op.status = "fail"

    def info(self, op: Operation) -> None:
        op.status = "info"
        op.ret = math.inf
