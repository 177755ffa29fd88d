"""Counterexamples: rebuilding them from parent links, replaying them, and showing them.

The store keeps only keys (fingerprints) and parent links, so a counterexample is rebuilt by
replaying the model: from an initial state with the first key, repeatedly take a successor whose
key is the next one in the chain. Under symmetry reduction the states met this way may be
relabellings of the ones the search stored, but they form a real behaviour of the model, which
is what a reader (and a replay through the spec) needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from .model import Label, Model
from .result import Step
from .store import ROOT, Store, chain

#: Decides whether a candidate last step is the violation being rebuilt:
#: ``(state before or None for an initial state, label or None, state after) -> bool``.
StepPredicate = Callable[[Any, Label | None, Any], bool]


class ReplayError(Exception):
    """A trace is not a behaviour of the model, or a chain of keys cannot be replayed.

    When the engine raises it while rebuilding a counterexample, the model's ``canonical`` is not
    a symmetry of its ``successors`` (or one of them is not deterministic).
    """


def rebuild(
    model: Model[Any],
    store: Store,
    parent_key: Hashable,
    target_key: Hashable,
    is_violation: StepPredicate,
) -> list[Step]:
    """A shortest behaviour ending in the violating step found by the search.

    ``parent_key`` is the key of the stored state the violating state was generated from
    (:data:`~raftkit.modelcheck.engine.store.ROOT` if it is an initial state) and ``target_key`` the
    key of the violating state, which need not be in the store (it may be out of bounds).
    ``is_violation`` picks, among the successors with that key, one that really violates the
    property: with symmetry several relabellings share the key.
    """
    keyof = store.key
    canonical = model.canonical
    keys = [] if parent_key is ROOT else chain(store, parent_key)

    if not keys:
        for state in model.init_states():
            if keyof(canonical(state)) == target_key and is_violation(None, None, state):
                return [(None, state)]
        raise ReplayError("no initial state has the violating state's key")

    current = None
    for state in model.init_states():
        if keyof(canonical(state)) == keys[0]:
            current = state
            break
    else:
        raise ReplayError("no initial state has the first key of the chain")

    trace: list[Step] = [(None, current)]
    for depth, key in enumerate(keys[1:], start=2):
        for label, state in model.successors(current):
            if keyof(canonical(state)) == key:
                trace.append((label, state))
                current = state
                break
        else:
            raise ReplayError(
                f"state {depth} of the counterexample is not reachable from state {depth - 1}: "
                "is canonical() a symmetry of successors()?"
            )

    for label, state in model.successors(current):
        if keyof(canonical(state)) == target_key and is_violation(current, label, state):
            trace.append((label, state))
            return trace
    raise ReplayError(
        "the violating step is not reachable from the replayed prefix: "
        "is canonical() a symmetry of successors() and of the properties?"
    )


def replay(model: Model[Any], trace: Sequence[Step]) -> None:
    """Check that ``trace`` is a behaviour of ``model``; raise :class:`ReplayError` if not.

    The first state must be an initial state and every later ``(label, state)`` one of the
    pairs ``model.successors`` yields for the state before it.
    """
    if not trace:
        raise ReplayError("empty trace")
    first_label, first = trace[0]
    if first_label is not None:
        raise ReplayError(f"step 1 has label {first_label!r}; an initial state has none")
    if first not in list(model.init_states()):
        raise ReplayError("step 1 is not an initial state")
    previous = first
    for number, (label, state) in enumerate(trace[1:], start=2):
        if (label, state) not in list(model.successors(previous)):
            raise ReplayError(f"step {number} ({label!r}) is not a successor of step {number - 1}")
        previous = state


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: Stands for a variable missing on one side of a :func:`diff` (``None`` is a JSON value).
ABSENT: Any = _Absent()


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The variables whose value differs, as ``(name, old, new)``; a missing one is ``ABSENT``.

    Keys keep the order of ``after`` (then keys only in ``before``), so output follows the
    model's own variable order.
    """
    changes = []
    for name, value in after.items():
        if name not in before or before[name] != value:
            changes.append((name, before.get(name, ABSENT), value))
    for name, value in before.items():
        if name not in after:
            changes.append((name, value, ABSENT))
    return changes


def format_value(value: Any) -> str:
    """A compact, unambiguous rendering of a JSON value for traces."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def trace_to_json(model: Model[Any], trace: Sequence[Step]) -> list[dict[str, Any]]:
    """The trace as ``[{"action": str | None, "state": model.describe(state)}, ...]``."""
    return [
        {
            "action": None if label is None else model.format_label(label),
            "state": dict(model.describe(state)),
        }
        for label, state in trace
    ]


def trace_lines(model: Model[Any], trace: Sequence[Step]) -> list[str]:
    """The trace for people, one list entry per line.

    The initial state is shown in full; each later state shows only the variables that
    changed, so the reader's eye goes to what the action did.
    """
    lines: list[str] = []
    previous: Mapping[str, Any] | None = None
    for number, (label, state) in enumerate(trace, start=1):
        described = model.describe(state)
        if label is None:
            lines.append(f"{number}. Initial state")
            lines.extend(_wrap(f"{k}={format_value(v)}" for k, v in described.items()))
        else:
            lines.append(f"{number}. {model.format_label(label)}")
            assert previous is not None
            changes = diff(previous, described)
            if not changes:
                lines.append("     (no variable changed)")
            for name, old, new in changes:
                if isinstance(old, list) and isinstance(new, list):
                    # Bags and sets (the network, vote sets) read better as what came and went.
                    lines.extend(_list_change(name, old, new))
                else:
                    lines.append(f"     {name}: {_show(old)} -> {_show(new)}")
        previous = described
    return lines


def _list_change(name: str, old: list[Any], new: list[Any]) -> list[str]:
    old_keys = [format_value(v) for v in old]
    new_keys = [format_value(v) for v in new]
    removed = list(old_keys)
    added = []
    for key in new_keys:
        if key in removed:
            removed.remove(key)
        else:
            added.append(key)
    if not removed and not added:  # same elements, new order
        return [f"     {name}: {format_value(old)} -> {format_value(new)}"]
    lines = [f"     {name}:"]
    lines.extend(f"       - {key}" for key in removed)
    lines.extend(f"       + {key}" for key in added)
    return lines


def _show(value: Any) -> str:
    return "(absent)" if value is ABSENT else format_value(value)


def _wrap(items: Any, width: int = 96, indent: str = "     ") -> list[str]:
    """Pack ``name=value`` items into lines of at most ``width`` characters (compact display)."""
    lines: list[str] = []
    current = indent
    for item in items:
        if current != indent and len(current) + 2 + len(item) > width:
            lines.append(current)
            current = indent
        current = current + ("  " if current != indent else "") + item
    if current != indent:
        lines.append(current)
    return lines
