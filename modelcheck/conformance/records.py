"""The records of conformance: the spec's parameters for a trace, the keys that compare spec
messages with a trace's, an interpretation of a node's trace, and what a run found (a failure,
the outcome)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ...spec import options as O
from ...spec.params import Params
from ...spec.state import MType, State
from . import rules as R
from .traceformat import ROLES, TraceEvent, event_summary

ROLE_NAME = {v: k for k, v in ROLES.items()}
Label = tuple[Any, ...]
_SPEC_NAME = re.compile(r"\bs(\d+)\b")
ENTRY_VALUE = {"noop": O.NOOP, "normal": 1}


OBSERVED = (
    "term",
    "role",
    "vote",
    "commit_index",
    "log_length",
    "last_log_term",
    "snapshot_index",
)


# Longest run of spec steps one event may stand for. A pre-candidate that wins its pre-vote and
# becomes a candidate is the longest: pre-vote tallied, Timeout, its own RequestVote sent,
# handled and answered, the answer tallied (5).
MAX_DEPTH = 6


# Events that name an action: their explanation must take it.
REQUIRED_ACTION = {
    "BecomePreCandidate": ("PreVoteTimeout",),
    "BecomeCandidate": ("Timeout",),
    "BecomeLeader": ("BecomeLeader",),
    "ClientRequest": ("ClientRequest", "AppendNoop"),
    "Compacted": ("Compact",),
    "AddServer": ("AddServer",),
    "RemoveServer": ("RemoveServer",),
}


# Options of the spec that raftkit.impl uses (all of them). ``batch`` is unbounded here: the
# trace says how many entries a request carried.
IMPL_OPTIONS = ("batch", "prevote", "noop", "snapshots", "stepdown", "membership")


def spec_params(servers: int, options: Sequence[str] = IMPL_OPTIONS, initial: int = 0) -> Params:
    """The spec's parameters for validating traces of ``servers`` nodes with these options;
    with membership, the first ``initial`` servers are the initial configuration (0: all).

    Two freedoms of the dissertation that the checker's runs leave out are on: a leader may
    replicate to servers outside its configuration (``catch_up``, §4.2.1: a new server catches
    up before it is added), and a server being removed may stand for election until its removal
    is committed (``stand_until_removed``, §4.2.2)."""
    membership = "membership" in options
    return Params(
        servers=servers,
        values=1,
        faults=True,
        batch=1_000_000 if "batch" in options else 0,
        prevote="prevote" in options,
        noop="noop" in options,
        snapshots="snapshots" in options,
        stepdown="stepdown" in options,
        membership=membership,
        init_config=initial if membership else 0,
        catch_up=membership,
        stand_until_removed=membership,
    )


def spec_key(m: Any) -> tuple:
    """A spec message as a comparable key in the trace's terms."""
    t = m.mtype
    head = (m.mterm, m.msource, m.mdest)
    if t == MType.RequestVoteRequest:
        return ("RequestVote", *head, m.mlastLogIndex, m.mlastLogTerm)
    if t == MType.RequestVoteResponse:
        return ("RequestVoteResponse", *head, m.mvoteGranted)
    if t == MType.PreVoteRequest:
        return ("PreVote", *head, m.mlastLogIndex, m.mlastLogTerm)
    if t == MType.PreVoteResponse:
        return ("PreVoteResponse", *head, m.mvoteGranted)
    if t == MType.AppendEntriesRequest:
        entries = tuple((e.term, e.value) for e in m.mentries)
        return ("AppendEntries", *head, m.mprevLogIndex, m.mprevLogTerm, entries, m.mcommitIndex)
    if t == MType.AppendEntriesResponse:
        return ("AppendEntriesResponse", *head, m.msuccess, m.mmatchIndex)
    if t == MType.InstallSnapshotRequest:
        return ("InstallSnapshot", *head, m.mlastIncludedIndex, m.mlastIncludedTerm)
    return ("InstallSnapshotResponse", *head, m.mmatchIndex)


KEY_FIELDS = {
    "RequestVote": ("last_log_index", "last_log_term"),
    "RequestVoteResponse": ("vote_granted",),
    "PreVote": ("last_log_index", "last_log_term"),
    "PreVoteResponse": ("vote_granted",),
    "AppendEntries": ("prev_log_index", "prev_log_term", "entries", "leader_commit"),
    "AppendEntriesResponse": ("success", "match_index"),
    "InstallSnapshot": ("last_included_index", "last_included_term"),
    "InstallSnapshotResponse": ("match_index",),
}


@dataclass
class Step:
    """One candidate explanation being searched: the node's spec state and what it sent."""

    state: State
    labels: tuple
    produced: tuple  # spec messages to other nodes, in order


class Interp(NamedTuple):
    """One interpretation of a node's trace so far: a spec state of the node consistent with
    every event of it, and what the spec has it doing that the trace has not shown yet."""

    server: Any
    # The message of the node's last Receive while the spec has not handled it (else None).
    current: Any
    # Messages to other nodes the spec's steps sent that no Send has shown yet.
    pending: tuple
    # Of those, the replies of handled requests: they must be sent before the node's next
    # Receive or Restart.
    owed: tuple


class TooManyInterpretations(Exception):
    """The set of interpretations of one node grew past the limit."""

    def __init__(self, ev: TraceEvent, number: int, size: int, limit: int) -> None:
        super().__init__(
            f"event {number} at {ev.where} ({event_summary(ev)}): {size} interpretations of "
            f"{ev.node}'s state agree with the trace so far, more than the limit of {limit} "
            "(raise it with --max-interpretations)"
        )
        self.event, self.number, self.size, self.limit = ev, number, size, limit


@dataclass
class Failure:
    """Why an event could not be explained."""

    event: TraceEvent
    number: int
    node_state: dict[str, Any]
    candidates: list[tuple[str, str]]
    expected: dict[str, Any]
    observed: dict[str, Any]
    closest: list[str]
    state_before: State
    state_closest: State | None
    reason: str
    rule: str = R.RULE_GENERIC
    cls: str = R.SAFETY

    def deviation(self) -> R.Deviation:
        ev = self.event
        return R.Deviation(
            self.number, ev.path, ev.line, ev.node, event_summary(ev), self.rule, self.cls,
            self.reason,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "event_number": self.number,
            "file": self.event.path,
            "line": self.event.line,
            "event": event_summary(self.event),
            "reason": self.reason,
            "rule": self.rule,
            "class": self.cls,
            "spec_state_before": self.node_state,
            "candidates": [{"action": a, "why_not": w} for a, w in self.candidates],
            "closest": self.closest,
            "expected": self.expected,
            "observed": self.observed,
        }


@dataclass
class Outcome:
    """The result of validating one trace."""

    events: int
    spec_steps: int
    seconds: float
    failure: Failure | None = None
    nodes: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    kinds: dict[str, int] = field(default_factory=dict)
    # With keep-going: every deviation, in trace order (the first is ``failure``).
    deviations: list[R.Deviation] = field(default_factory=list)
    max_interpretations: int = 1

    @property
    def ok(self) -> bool:
        return self.failure is None

    def summary(self) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else float("inf")
        if self.ok:
            return (
                f"conforms: {self.events} events, {self.spec_steps} spec steps "
                f"({self.seconds:.2f} s, {rate:,.0f} events/s)"
            )
        f = self.failure
        assert f is not None
        return f"does not conform: event {f.number} at {f.event.where}: {f.reason}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "result": "conforms" if self.ok else "violation",
            "events": self.events,
            "spec_steps": self.spec_steps,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
            "nodes": list(self.nodes),
            "options": list(self.options),
            "max_interpretations": self.max_interpretations,
        }
        if self.failure is not None:
            out["failure"] = self.failure.to_json()
        if self.deviations:
            out["deviations"] = [d.to_json() for d in self.deviations]
        return out


DEFAULT_MAX_INTERPRETATIONS = 256
