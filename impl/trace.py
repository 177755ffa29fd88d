"""Conformance traces of the core: observer events as JSON Lines (docs/conformance.md).

``raftkv simulate --trace`` and ``raftkv serve --trace`` write this format; ``raftmc conform``
reads it. Tests use ``TraceRecorder`` to keep a run's trace in memory.
"""

from __future__ import annotations

import json
from typing import Any

from .events import Event
from .membership import Membership
from .messages import ENTRY_CONFIG, AppendEntries, Entry


def _jsonable(v: Any) -> Any:
    # JSON has no bytes: commands and snapshot data are written as hex (validators ignore them).
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def event_json(ev: Event) -> dict[str, Any]:
    """One trace event: node, event kind, the node's state after it, the message, details."""
    out: dict[str, Any] = {"node": ev.node, "event": ev.kind, "state": ev.state.to_dict()}
    if ev.msg is not None:
        out["msg"] = _jsonable(ev.msg.to_wire())
        if isinstance(ev.msg, AppendEntries):
            out["msg"]["entries"] = [_entry_json(e) for e in ev.msg.entries]
    if ev.info:
        out["info"] = _jsonable(ev.info)
    return out


def _entry_json(e: Entry) -> list[Any]:
    """``[term, index, kind, data]``, and a configuration entry's members after them (the
    validator compares them with the spec's; the data alone is opaque to it)."""
    out = _jsonable(e.to_wire())
    if e.kind == ENTRY_CONFIG:
        out.append(list(Membership.decode(e.data).ids))
    return out


def trace_line(ev: Event) -> str:
    """The JSON line for one event (no newline)."""
    return json.dumps(event_json(ev), separators=(",", ":"))


class TraceRecorder:
    """An observer that keeps every event, in order (one list for a whole cluster).

    Events are kept as they are (appending is nearly free); ``lines`` turns them into JSON only
    when a trace is wanted, so tests can record every run and validate some.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, ev: Event) -> None:
        self.events.append(ev)

    @property
    def lines(self) -> list[str]:
        """The trace as JSON lines."""
        return [trace_line(ev) for ev in self.events]

    def write(self, path: str) -> None:
        """Save the trace as a JSON Lines file."""
        with open(path, "w", encoding="utf-8") as f:
            for line in self.lines:
                f.write(line + "\n")
