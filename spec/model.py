"""Raft as a model for the checker: the spec's actions, bounds, properties and symmetry.

This is the only place where spec/ meets the checker's protocol
(``raftkit.modelcheck.engine.model``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

from ..modelcheck.engine.model import (
    ActionProperty,
    Invariant,
    Label,
    LeadsTo,
    Properties,
    Sometimes,
    SometimesStep,
)
from . import properties as props
from .action import Action
from .configuration import config_count, is_config, members, server_classes
from .liveness import LIVENESS, RAFT_FAIRNESS
from .membership_properties import membership_properties
from .next import action_names, next_steps
from .params import Params
from .state import (
    NIL,
    Entry,
    Log,
    Message,
    MType,
    Role,
    State,
    init_state,
    server_name,
)
from .symmetry import (
    all_permutations,
    canonical,
    canonical_members,
    canonical_witness,
    compose,
    relabel_action,
)


def within_bounds(p: Params, s: State) -> bool:
    """The state constraint: terms, log lengths, copies of a message and messages in flight
    (with membership: configuration entries in a log)."""
    for srv in s.servers:
        if srv.currentTerm > p.max_term or len(srv.log) > p.max_log:
            return False
        if p.membership and config_count(srv.log) > p.max_changes:
            return False
    if len(s.messages) > p.max_inflight:
        return False
    return all(count <= p.max_dup for _m, count in s.messages)


class RaftModel:
    """raft.tla for one bounded configuration, with or without symmetry reduction."""

    def __init__(self, params: Params, symmetry: bool = True) -> None:
        params.validate()
        self.params = params
        self.symmetry = symmetry
        # With membership, servers fall in classes only renamings within a class keep.
        self.classes = server_classes(params) if params.membership else ()
        self._perms = list(all_permutations(params.servers))
        self._perm_index = {perm: k for k, perm in enumerate(self._perms)}

    def init_states(self) -> Iterator[State]:
        yield init_state(self.params)

    def successors(self, state: State) -> Iterator[tuple[Label, State]]:
        return next_steps(self.params, state)

    def within_bounds(self, state: State) -> bool:
        return within_bounds(self.params, state)

    def canonical(self, state: State) -> Hashable:
        if not self.symmetry:
            return state
        if self.params.membership:
            return canonical_members(state, self.classes)
        return canonical(state)

    # The symmetry named for liveness under per-instance fairness (engine.model.SymmetryWitness):
    # every renaming of the servers. Membership's renamings also rename configuration entries,
    # which labels do not show: that option goes without.
    def symmetries(self) -> Sequence[tuple[int, ...]] | None:
        if not self.symmetry or self.params.membership:
            return None
        return self._perms

    def compose_symmetries(self, g: tuple[int, ...], h: tuple[int, ...]) -> tuple[int, ...]:
        return compose(g, h)

    def canonical_witness(self, state: State) -> tuple[Hashable, int]:
        canon, perm = canonical_witness(state)
        return canon, self._perm_index[perm]

    def rename_label(self, label: Label, g: tuple[int, ...]) -> Label:
        return relabel_action(label, g)

    def properties(self) -> Properties[State]:
        invariants, sometimes = props.INVARIANTS, props.SOMETIMES
        if self.params.membership:
            invariants, sometimes = membership_properties(self.params, invariants, sometimes)
        return Properties(
            invariants=tuple(Invariant(p.name, p.predicate, p.doc) for p in invariants),
            action_properties=tuple(
                ActionProperty(p.name, p.predicate, p.doc) for p in props.ACTION_PROPERTIES
            ),
            sometimes=tuple(Sometimes(p.name, p.predicate, p.doc) for p in sometimes),
            sometimes_steps=tuple(
                SometimesStep(p.name, p.predicate, p.doc) for p in props.SOMETIMES_STEPS
            ),
            leads_to=tuple(
                LeadsTo(p.name, p.trigger, p.goal, p.doc, p.fairness) for p in LIVENESS
            ),
            fairness=RAFT_FAIRNESS,
        )

    def action_names(self) -> Sequence[str]:
        return action_names(self.params)

    def describe(self, state: State) -> Mapping[str, Any]:
        return describe(state, self.params.snapshots)

    def format_label(self, label: Label) -> str:
        return format_label(label)


# --- for people and programs -------------------------------------------------------------------


def _log_json(log: Log) -> list[list[Any]]:
    """Entries as ``[term, value]``; a configuration entry's value is ``{"config": [...]}``."""
    return [
        [e.term, {"config": [server_name(k) for k in members(e)]} if is_config(e) else e.value]
        for e in log
    ]


def message_json(m: Message, history: bool = True) -> dict[str, Any]:
    """A message as a JSON object with raft.tla's field names; ``mlog``, raft.tla's history
    variable, only with ``history`` (without it the field is always empty: noise)."""
    out: dict[str, Any] = {"mtype": MType(m.mtype).name}
    for name, value in zip(m._fields[1:], m[1:], strict=True):
        if name == "mlog" and not history:
            continue
        if name in ("msource", "mdest"):
            out[name] = server_name(value)
        elif name in ("mentries", "mlog", "msnapshot"):
            out[name] = _log_json(value)
        else:
            out[name] = value
    return out


def describe(s: State, snapshots: bool = False) -> dict[str, Any]:
    """The state as named variables: ``currentTerm[s1]``, ..., ``messages``, history, ghost
    (and ``snapshotIndex[s1]``, ... with the snapshots option)."""
    out: dict[str, Any] = {}
    for i, srv in enumerate(s.servers):
        name = server_name(i)
        out[f"currentTerm[{name}]"] = srv.currentTerm
        out[f"state[{name}]"] = Role(srv.state).name
        out[f"votedFor[{name}]"] = None if srv.votedFor == NIL else server_name(srv.votedFor)
        out[f"log[{name}]"] = _log_json(srv.log)
        out[f"commitIndex[{name}]"] = srv.commitIndex
        out[f"votesResponded[{name}]"] = [server_name(k) for k in srv.votesResponded]
        out[f"votesGranted[{name}]"] = [server_name(k) for k in srv.votesGranted]
        out[f"nextIndex[{name}]"] = {server_name(k): v for k, v in enumerate(srv.nextIndex)}
        out[f"matchIndex[{name}]"] = {server_name(k): v for k, v in enumerate(srv.matchIndex)}
        if snapshots:
            out[f"snapshotIndex[{name}]"] = srv.snapshotIndex
    out["messages"] = [
        {**message_json(m, history=bool(s.history)), "count": c} for m, c in s.messages
    ]
    if s.history:
        h = s.history
        out["elections"] = [
            {
                "eterm": e.eterm,
                "eleader": server_name(e.eleader),
                "elog": _log_json(e.elog),
                "evotes": [server_name(v) for v in e.evotes],
                "evoterLog": {server_name(v): _log_json(lg) for v, lg in e.evoterLog},
            }
            for e in h.elections
        ]
        out["allLogs"] = [_log_json(lg) for lg in h.allLogs]
        for i, vl in enumerate(h.voterLog):
            out[f"voterLog[{server_name(i)}]"] = {server_name(v): _log_json(lg) for v, lg in vl}
    if s.ghost:
        out["ghost.elected"] = [[term, server_name(i)] for term, i in s.ghost.elected]
        out["ghost.committed"] = [
            {"index": index, "entry": [e.term, e.value], "term": term}
            for index, e, term in s.ghost.committed
        ]
    return out


def format_label(label: tuple[Any, ...]) -> str:
    """``Timeout(s1)``, ``RequestVote(s1, s2)``, ``HandleAppendEntriesRequest(...)``."""
    return str(label if isinstance(label, Action) else Action(*label))


__all__ = ["RaftModel", "within_bounds", "describe", "format_label", "message_json", "Entry"]
