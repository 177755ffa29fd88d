"""The compiled form as the checker sees it: :class:`FastRaftModel`, the default model of
``raftmc check`` for raft.tla (with or without history, ghost variables, faults and mutants)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

from ...spec.model import RaftModel, describe, format_label
from ...spec.params import Params
from ...spec.state import State
from ..engine.model import Label, Properties, only_properties
from .flat import FlatRaft
from .forms import Uncompiled, checked_properties, uncompiled
from .tables import CompiledRaft, FastState


class FastRaftModel:
    """raft.tla through :class:`CompiledRaft`: the checker's default model for Raft.

    It implements the plain model protocol (states are compiled pairs of ids, converted with
    ``to_spec`` for people) and the checker's batch protocol (``batch()``), which the engine
    prefers. History, ghost variables, faults, mutants and membership changes (not with ghost
    variables) are supported: the steps themselves come from the reference actions; the
    options of ``spec/options.py`` are not. ``native``: whether the flat form's cached loop
    runs in C (None: where it is built; see ``flat.native_available``). ``only``: the
    invariants and action properties to check, as TLC's ``INVARIANT`` lines (None: all; an
    unknown name is a ValueError, as with ``CheckingOnly``).
    """

    #: Verdicts of the temporal properties kept (per tuple of servers) before they are
    #: forgotten: bounds the memory of very long runs.
    VERDICT_CACHE = 2_000_000

    def __init__(
        self,
        params: Params,
        symmetry: bool = True,
        native: bool | None = None,
        only: Sequence[str] | None = None,
    ) -> None:
        if params.options_on:
            # Not shown step for step equal to the readable spec's: the readable spec runs them.
            raise Uncompiled("the options of spec/options.py have no compiled form")
        if params.membership and params.ghost:
            raise Uncompiled("--membership has no compiled form with ghost variables")
        missing = uncompiled(checked_properties(params, only))
        if missing:
            raise Uncompiled(f"no compiled form of {', '.join(missing)}")
        self.params = params
        self.symmetry = symmetry
        #: The invariants and action properties checked (None: all), as ``--invariant``.
        self.only = tuple(only) if only is not None else None
        self.reference = RaftModel(params, symmetry)
        self.compiled: CompiledRaft = (
            CompiledRaft(params, symmetry, self.only) if params.ghost
            else FlatRaft(params, symmetry, native, self.only)
        )

    # batch protocol
    def batch(self) -> Any:
        """The compiled tables and hot loop (see ``raftkit.modelcheck.engine.batch``)."""
        return self.compiled

    def export_state(self, st: Any) -> State:
        """A state as the reference spec has it (for traces, JSON and replay)."""
        return self.compiled.to_spec(st) if isinstance(st, tuple) and not isinstance(
            st, State) else st

    # plain protocol
    def init_states(self) -> Iterator[FastState]:
        for s in self.reference.init_states():
            yield self.compiled.from_spec(s)

    def successors(self, state: FastState) -> Iterator[tuple[Label, FastState]]:
        return self.compiled.successors(state)

    def within_bounds(self, state: FastState) -> bool:
        return self.compiled.in_bounds(state)

    def canonical(self, state: FastState) -> Hashable:
        return self.compiled.key(state)

    # The symmetry named for liveness under per-instance fairness: the reference's renamings
    # of servers, in the order the compiled tables index them.
    def symmetries(self) -> Sequence[tuple[int, ...]] | None:
        return self.reference.symmetries()

    def compose_symmetries(self, g: tuple[int, ...], h: tuple[int, ...]) -> tuple[int, ...]:
        return self.reference.compose_symmetries(g, h)

    def canonical_witness(self, state: FastState) -> tuple[Hashable, int]:
        return self.compiled.key_witness(state)

    def rename_label(self, label: Label, g: tuple[int, ...]) -> Label:
        return self.reference.rename_label(label, g)

    def properties(self) -> Properties[Any]:
        """The reference properties, on compiled states converted back."""
        from ..engine.model import ActionProperty, Invariant, LeadsTo, Sometimes, SometimesStep

        ref = self.reference.properties()
        if self.only is not None:
            ref = only_properties(ref, self.only)
        spec = self.export_state

        def inv(fn: Any) -> Any:
            return lambda s: fn(spec(s))

        # Raft's triggers and goals read only the servers (spec/liveness.py), and many states
        # share their servers: their verdicts are kept per tuple of server ids.
        predicates = [fn for q in ref.leads_to for fn in (q.p, q.q)]
        verdicts: dict[Hashable, tuple[bool, ...]] = {}
        servers_key = self.compiled.servers_key

        def verdicts_of(s: Any) -> tuple[bool, ...]:
            key = servers_key(s)
            found = verdicts.get(key)
            if found is None:
                if len(verdicts) >= self.VERDICT_CACHE:
                    verdicts.clear()
                state = spec(s)
                found = verdicts[key] = tuple(fn(state) for fn in predicates)
            return found

        def temporal(k: int) -> Any:
            return lambda s: verdicts_of(s)[k]

        def step(fn: Any) -> Any:
            return lambda s, label, t: fn(spec(s), label, spec(t))

        return Properties(
            invariants=tuple(Invariant(q.name, inv(q.holds), q.doc) for q in ref.invariants),
            action_properties=tuple(
                ActionProperty(q.name, step(q.holds), q.doc) for q in ref.action_properties
            ),
            sometimes=tuple(Sometimes(q.name, inv(q.reached), q.doc) for q in ref.sometimes),
            sometimes_steps=tuple(
                SometimesStep(q.name, step(q.reached), q.doc) for q in ref.sometimes_steps
            ),
            leads_to=tuple(
                LeadsTo(q.name, temporal(2 * k), temporal(2 * k + 1), q.doc, q.fairness)
                for k, q in enumerate(ref.leads_to)
            ),
            fairness=ref.fairness,
        )

    def action_names(self) -> Sequence[str]:
        return self.compiled.names

    def describe(self, state: Any) -> Mapping[str, Any]:
        return describe(self.export_state(state))

    def format_label(self, label: Label) -> str:
        return format_label(label)
