"""A toy model offered through the engine's batch protocol, to test that search without Raft.

``BatchToy(toy)`` is any plain toy of ``toy_models`` with ``batch()`` added: the batch side does
the per-successor work (bounds, keys, properties) as a compiled model does, in the simplest way,
so the batched search, its workers and its spilled frontier can be compared with the plain
search on models whose counts are known by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from raftkit.modelcheck.engine.batch import StepViolation


class _Batch:
    def __init__(self, toy: Any) -> None:
        self.toy = toy
        self.names: list[str] = list(toy.action_names())
        self._index = {name: k for k, name in enumerate(self.names)}
        props = toy.properties()
        self._invariants = [(p.name, p.holds) for p in props.invariants]
        self._actions = [(p.name, p.holds) for p in props.action_properties]
        self._states = [(p.name, p.reached) for p in props.sometimes]
        self._steps = [(p.name, p.reached) for p in props.sometimes_steps]
        self._enabled: list[int] = [0] * len(self.names)
        #: Bit k: the k-th sometimes property (states, then steps) was reached.
        self.reached = 0

    def _action(self, name: str) -> int:
        k = self._index.get(name)
        if k is None:
            k = self._index[name] = len(self.names)
            self.names.append(name)
            self._enabled.append(0)
        return k

    def _check(self, before: Any, label: Any, after: Any) -> None:
        inb = self.toy.within_bounds(after)
        for name, holds in self._invariants:
            if not holds(after):
                raise StepViolation(name, "invariant", before, label, after, inb)
        if label is not None:
            for name, holds in self._actions:
                if not holds(before, label, after):
                    raise StepViolation(name, "action", before, label, after, inb)

    def _note(self, before: Any, label: Any, after: Any) -> None:
        for k, (_name, reached) in enumerate(self._states):
            if reached(after):
                self.reached |= 1 << k
        if label is not None:
            shift = len(self._states)
            for k, (_name, reached) in enumerate(self._steps):
                if reached(before, label, after):
                    self.reached |= 1 << (shift + k)

    def initial(self) -> list[Any]:
        out = []
        for s in self.toy.init_states():
            self._check(s, None, s)
            if self.toy.within_bounds(s):
                self._note(None, None, s)
            out.append(s)
        return out

    def expand(
        self,
        states: Sequence[Any],
        keys: list[int],
        succs: list[Any],
        acts: list[int],
        firsts: list[int],
    ) -> int:
        generated = 0
        for s in states:
            firsts.append(len(keys))
            for label, t in self.toy.successors(s):
                generated += 1
                a = self._action(label[0])
                self._enabled[a] += 1
                self._check(s, label, t)
                if not self.toy.within_bounds(t):
                    continue
                self._note(s, label, t)
                keys.append(self.key(t))
                succs.append(t)
                acts.append(a)
        return generated

    def key(self, state: Any) -> int:
        return hash(self.toy.canonical(state))

    def partition(self, state: Any) -> int:
        return self.key(state)

    def in_bounds(self, state: Any) -> bool:
        return self.toy.within_bounds(state)

    def enabled_counts(self) -> list[int]:
        return list(self._enabled)

    def sometimes(self) -> dict[str, bool]:
        names = [n for n, _ in self._states] + [n for n, _ in self._steps]
        return {name: bool(self.reached >> k & 1) for k, name in enumerate(names)}

    def export_states(self, states: Sequence[Any]) -> list[Any]:
        return list(states)

    def import_states(self, values: Sequence[Any]) -> list[Any]:
        return list(values)


class BatchToy:
    """A plain toy model with the batch protocol beside its plain one."""

    def __init__(self, toy: Any) -> None:
        self.toy = toy
        self._batch = _Batch(toy)

    def batch(self) -> _Batch:
        return self._batch

    def __getattr__(self, name: str) -> Any:
        # The plain protocol (init_states, successors, ...) is the toy's.
        return getattr(self.toy, name)
