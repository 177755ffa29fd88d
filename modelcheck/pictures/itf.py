"""Traces in the Informal Trace Format (ITF), the JSON that Apalache and Quint read and write.

ITF (Apalache ADR-015) is one JSON object: ``#meta``, ``vars`` (the variable names) and
``states``, each state an object with its own ``#meta`` and one entry per variable. Values use
JSON where JSON suffices (booleans, strings, integers in the safe range, records as objects,
sequences as arrays) and tagged objects where it does not: ``{"#set": [...]}``,
``{"#map": [[key, value], ...]}``, ``{"#tup": [...]}`` and ``{"#bigint": "digits"}``.

A Raft state is written with raft.tla's variables and types, so a trace reads like one from
Apalache on raft.tla: ``currentTerm`` is a function from servers to terms (a ``#map``), the vote
sets are ``#set``s, logs are sequences of ``[term, value]`` records, and ``messages`` is the bag
as raft.tla has it, a function from message records to counts. Servers are the strings
``"s1"``..., client values ``"v1"``..., and raft.tla's ``Nil`` the string ``"Nil"``.

Any other model's state is written from its ``describe()`` (objects become records, arrays
sequences), so every trace of the checker can be exported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from ...spec.state import NIL, Entry, Message, MType, Role, State, server_name
from ..engine.model import Label
from .files import write_file

Step = tuple[Label | None, Any]

# JavaScript numbers are exact up to 2**53 - 1; ITF writes larger integers as strings.
_SAFE = 2**53 - 1

#: The variables of a Raft state, in raft.tla's order.
RAFT_VARS = (
    "currentTerm",
    "state",
    "votedFor",
    "log",
    "commitIndex",
    "votesResponded",
    "votesGranted",
    "nextIndex",
    "matchIndex",
    "messages",
)
HISTORY_VARS = ("elections", "allLogs", "voterLog")
GHOST_VARS = ("ghostElected", "ghostCommitted")


def itf_int(n: int) -> int | dict[str, str]:
    """An integer as ITF writes it: a JSON number when exact in JavaScript, else ``#bigint``."""
    return n if -_SAFE <= n <= _SAFE else {"#bigint": str(n)}


def _set(items: Sequence[Any]) -> dict[str, list[Any]]:
    return {"#set": list(items)}


def _map(pairs: Sequence[tuple[Any, Any]]) -> dict[str, list[list[Any]]]:
    return {"#map": [[k, v] for k, v in pairs]}


def _log(log: Sequence[Entry]) -> list[dict[str, Any]]:
    return [{"term": itf_int(e.term), "value": f"v{e.value}"} for e in log]


def _servers(ids: Sequence[int]) -> dict[str, list[Any]]:
    return _set([server_name(i) for i in ids])


def _py_to_itf(value: Any) -> Any:
    """A spec value of a kind this module does not know by name."""
    if isinstance(value, bool):
        return value
    if isinstance(value, IntEnum):
        return value.name
    if isinstance(value, int):
        return itf_int(value)
    if hasattr(value, "_asdict"):
        return {k: _py_to_itf(v) for k, v in value._asdict().items()}
    if isinstance(value, tuple | list):
        return [_py_to_itf(v) for v in value]
    return str(value)


def _message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"mtype": MType(m.mtype).name}
    for name, value in zip(m._fields[1:], m[1:], strict=True):
        if name in ("msource", "mdest"):
            out[name] = server_name(value)
        elif name in ("mentries", "mlog"):
            out[name] = _log(value)
        else:
            out[name] = _py_to_itf(value)
    return out


def raft_state_to_itf(s: State) -> dict[str, Any]:
    """A Raft state as ITF variables, named and typed as in raft.tla."""
    names = [server_name(i) for i in range(len(s.servers))]

    def per_server(value: Callable[[Any], Any]) -> dict[str, list[list[Any]]]:
        return _map([(names[i], value(srv)) for i, srv in enumerate(s.servers)])

    out: dict[str, Any] = {
        "currentTerm": per_server(lambda v: itf_int(v.currentTerm)),
        "state": per_server(lambda v: Role(v.state).name),
        "votedFor": per_server(lambda v: "Nil" if v.votedFor == NIL else server_name(v.votedFor)),
        "log": per_server(lambda v: _log(v.log)),
        "commitIndex": per_server(lambda v: itf_int(v.commitIndex)),
        "votesResponded": per_server(lambda v: _servers(v.votesResponded)),
        "votesGranted": per_server(lambda v: _servers(v.votesGranted)),
        "nextIndex": per_server(
            lambda v: _map([(names[j], itf_int(x)) for j, x in enumerate(v.nextIndex)])
        ),
        "matchIndex": per_server(
            lambda v: _map([(names[j], itf_int(x)) for j, x in enumerate(v.matchIndex)])
        ),
        "messages": _map([(_message(m), itf_int(c)) for m, c in s.messages]),
    }
    # Per-server variables that spec options add (e.g. snapshotIndex), written generically.
    known = set(RAFT_VARS)
    for field in s.servers[0]._fields if s.servers else ():
        if field not in known:
            out[field] = per_server(lambda v, field=field: _py_to_itf(getattr(v, field)))
    if s.history:
        h = s.history
        out["elections"] = _set(
            [
                {
                    "eterm": itf_int(e.eterm),
                    "eleader": server_name(e.eleader),
                    "elog": _log(e.elog),
                    "evotes": _servers(e.evotes),
                    "evoterLog": _map([(server_name(v), _log(lg)) for v, lg in e.evoterLog]),
                }
                for e in h.elections
            ]
        )
        out["allLogs"] = _set([_log(lg) for lg in h.allLogs])
        out["voterLog"] = _map(
            [
                (names[i], _map([(server_name(v), _log(lg)) for v, lg in vl]))
                for i, vl in enumerate(h.voterLog)
            ]
        )
    if s.ghost:
        g = s.ghost
        out["ghostElected"] = _set(
            [{"#tup": [itf_int(term), server_name(i)]} for term, i in g.elected]
        )
        out["ghostCommitted"] = _set(
            [
                {"#tup": [itf_int(index), _log([e])[0], itf_int(term)]}
                for index, e, term in g.committed
            ]
        )
    return out


def json_to_itf(value: Any) -> Any:
    """A JSON value (as from a model's ``describe()``) as an ITF value."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        # ITF has no null; a missing value is written as the string "None".
        return "None" if value is None else value
    if isinstance(value, int):
        return itf_int(value)
    if isinstance(value, Mapping):
        return {str(k): json_to_itf(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_to_itf(v) for v in value]
    return str(value)


def trace_to_itf(
    steps: Sequence[Step],
    *,
    format_label: Callable[[Label], str] | None = None,
    describe: Callable[[Any], Mapping[str, Any]] | None = None,
    description: str = "",
    parameters: Mapping[str, Any] | None = None,
    loop: int | None = None,
) -> dict[str, Any]:
    """Any trace (``(label or None, state)`` steps) as an ITF object.

    Raft states are written as raft.tla's variables; other states through ``describe`` (which
    is then required). Each state's ``#meta`` holds its index and, when ``format_label`` is
    given, the action that led to it.

    A lasso (a liveness counterexample, :class:`~raftkit.modelcheck.engine.result.Violation` with a
    ``loop``) is written with ITF's ``loop``: the index of the state where the repetition
    starts, the last state being followed by that one again. So the trace's last step, back to
    that state, is not written as a state; its action goes in the top ``#meta`` as
    ``loopAction`` ("stuttering" when the last state repeats itself).
    """
    states = []
    var_names: list[str] = []
    closing: str | None = None
    if loop is not None:
        if not 0 <= loop < len(steps):
            raise ValueError(f"loop {loop} is not the index of a step (of {len(steps)})")
        if len(steps) > loop + 1:
            label = steps[-1][0]
            closing = str(label) if format_label is None or label is None else format_label(label)
            steps = steps[:-1]
        else:
            closing = "stuttering"
    for index, (label, state) in enumerate(steps):
        if isinstance(state, State):
            values = raft_state_to_itf(state)
        else:
            if describe is None:
                raise TypeError("a trace of non-Raft states needs describe=")
            values = {k: json_to_itf(v) for k, v in describe(state).items()}
        for name in values:
            if name not in var_names:
                var_names.append(name)
        meta: dict[str, Any] = {"index": index}
        if format_label is not None:
            meta["action"] = "initial state" if label is None else format_label(label)
        states.append({"#meta": meta, **values})
    top: dict[str, Any] = {
        "format": "ITF",
        "format-description": "Informal Trace Format, Apalache ADR-015",
        "source": "raftkit raftmc",
        "description": description,
        "timestamp": int(datetime.now(UTC).timestamp()),
    }
    if parameters is not None:
        top["parameters"] = json_to_itf(dict(parameters))
    if loop is None:
        return {"#meta": top, "vars": var_names, "states": states}
    top["loopAction"] = closing
    return {"#meta": top, "vars": var_names, "states": states, "loop": loop}


def write_itf(
    path: str | Path,
    steps: Sequence[Step],
    **options: Any,
) -> Path:
    """Write :func:`trace_to_itf` of ``steps`` to ``path``; options as for that function."""
    out = Path(path)
    write_file(out, json.dumps(trace_to_itf(steps, **options), indent=1) + "\n")
    return out
