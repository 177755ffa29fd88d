"""Shared by the picture tests: short Raft traces made by naming their steps, and tool checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from raftkit.modelcheck.engine.model import Invariant, Properties
from raftkit.modelcheck.pictures.diagrams import short_label
from raftkit.spec.model import RaftModel
from raftkit.spec.params import Params
from raftkit.spec.state import Role

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schemas"

# An election, an entry replicated and committed, in the words of diagrams.short_label.
ELECT_AND_COMMIT = [
    "Timeout s1",
    "RequestVote s1→s1",
    "HandleRVReq RVReq s1→s1",
    "HandleRVResp RVResp s1→s1",
    "RequestVote s1→s2",
    "UpdateTerm RVReq s1→s2",
    "HandleRVReq RVReq s1→s2",
    "HandleRVResp RVResp s2→s1",
    "BecomeLeader s1",
    "ClientRequest s1 v1",
    "AppendEntries s1→s2",
    # raft.tla appends the entry first and answers when it handles the same request again.
    "HandleAEReq AEReq s1→s2",
    "HandleAEReq AEReq s1→s2",
    "HandleAEResp AEResp s2→s1",
    "AdvanceCommit s1",
]


def walk(model: RaftModel, names: list[str]) -> list:
    """The trace that takes the named steps from the initial state (fails on a step not enabled)."""
    (state,) = list(model.init_states())
    steps: list = [(None, state)]
    for name in names:
        for label, succ in model.successors(state):
            if short_label(label) == name:
                steps.append((label, succ))
                state = succ
                break
        else:
            enabled = sorted({short_label(lb) for lb, _ in model.successors(state)})
            raise AssertionError(f"{name} is not enabled; enabled: {enabled}")
    return steps


def raft(**bounds: object) -> RaftModel:
    values = {"servers": 3, "max_term": 2, "max_log": 1, "max_inflight": 3}
    values.update(bounds)
    return RaftModel(Params(**values))  # type: ignore[arg-type]


class NothingCommitted(RaftModel):
    """Raft with one extra invariant that a correct run breaks: nothing is ever committed.

    It turns "an entry gets committed" into a quick counterexample for the report and graph
    tests, without a slow mutant run.
    """

    def properties(self) -> Properties:
        base = super().properties()
        extra = Invariant(
            "NothingCommitted",
            lambda s: all(srv.commitIndex == 0 for srv in s.servers),
            "Test only: no server's commitIndex ever leaves 0.",
        )
        return Properties(
            invariants=(*base.invariants, extra),
            action_properties=base.action_properties,
            sometimes=base.sometimes,
            sometimes_steps=base.sometimes_steps,
        )


class NoLeader(RaftModel):
    """Raft with a test-only invariant broken by every election."""

    def properties(self) -> Properties:
        base = super().properties()
        extra = Invariant(
            "NoLeader", lambda s: all(srv.state != Role.Leader for srv in s.servers), "Test only."
        )
        return Properties(invariants=(*base.invariants, extra))


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def need(program: str) -> str:
    """The path of a system program the pictures need; installed by scripts/setup-system.sh."""
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is missing: run scripts/setup-system.sh")
    return path
