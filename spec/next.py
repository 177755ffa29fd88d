"""raft.tla's ``Next``: every enabled action instance of the table, and its successor.

The table is ``actions.NEXT`` (raft.tla), overlaid by the options that are on
(``options.overlay``, then ``membership.overlay``). This module only walks it, in the table's
order: each local action for every server and argument, then every alternative of Receive
for every message in the network, then the network's own steps; and after every step it
updates the variables that record the past (raft.tla's ``allLogs``, our ghost variables).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from . import actions
from .action import Action, ActionDef, Kind
from .params import Params
from .state import Ghost, Message, MType, State, set_add


def next_table(p: Params) -> tuple[ActionDef, ...]:
    """The rows of ``Next`` for these parameters: raft.tla's, overlaid by the options that are
    on, without the faults unless ``p.faults``."""
    return _table(p.faults, p.batch, p.prevote, p.noop, p.snapshots, p.stepdown, p.membership,
                  actions.NEXT)


@cache
def _table(
    faults: bool, batch: int, prevote: bool, noop: bool, snapshots: bool, stepdown: bool,
    membership: bool, base: tuple[ActionDef, ...],
) -> tuple[ActionDef, ...]:
    rows = base
    if batch or prevote or noop or snapshots or stepdown:
        from .options import overlay

        rows = overlay(rows, batch=bool(batch), prevote=prevote, noop=noop,
                       snapshots=snapshots, stepdown=stepdown)
    if membership:
        # Last: it guards whichever form of an action the options above put in.
        from . import membership as M

        rows = M.overlay(rows)
    return tuple(d for d in rows if faults or not d.fault)


def action_names(p: Params) -> tuple[str, ...]:
    """The names of the actions of ``Next``, each once, in the table's order."""
    return tuple(dict.fromkeys(d.name for d in next_table(p)))


def _receivers(p: Params) -> dict[MType, tuple[ActionDef, ...]]:
    return _receivers_of(next_table(p))


@cache
def _receivers_of(table: tuple[ActionDef, ...]) -> dict[MType, tuple[ActionDef, ...]]:
    return {
        t: tuple(d for d in table if d.kind is Kind.RECEIVE and t in d.mtypes) for t in MType
    }


def _local(p: Params, s: State, d: ActionDef, i: int) -> Iterator[tuple[Action, State]]:
    for rest in d.each(p, s, i):
        t = d.fn(p, s, i, *rest)
        if t is not None:
            yield Action(d.name, i, *rest), t


def receive(p: Params, s: State, m: Message) -> Iterator[tuple[Action, State]]:
    """Receive(m): every enabled alternative for the message, each its own successor.

    raft.tla: "Any RPC with a newer term causes the recipient to advance its term first.
    Responses with stale terms are ignored." UpdateTerm, DropStaleResponse and the handlers are
    alternatives with guards of their own; in the correct spec at most one is enabled (a test
    checks it on every reachable state), but a variant whose guards overlap gets every one.
    """
    i, j = m.mdest, m.msource
    for d in _receivers(p)[m.mtype]:
        t = d.fn(p, s, i, j, m)
        if t is not None:
            yield Action(d.name, i, j, m), t


def next_steps(p: Params, s: State) -> Iterator[tuple[Action, State]]:
    """raft.tla's ``Next``: every enabled action instance and its successor.

    The history variable ``allLogs`` gains the logs as they were before the step, on every
    step, as in raft.tla; the ghost variables are updated from what the step did.
    """
    for label, t in _steps(p, s):
        if p.history:
            t = record_all_logs(s, t)
        if p.ghost:
            t = record_ghost(s, label, t)
        yield label, t


def _steps(p: Params, s: State) -> Iterator[tuple[Action, State]]:
    servers = range(p.servers)
    table = next_table(p)
    for d in table:
        if d.kind is Kind.LOCAL:
            for i in servers:
                yield from _local(p, s, d, i)
    for m, _count in s.messages:
        yield from receive(p, s, m)
    for d in table:
        if d.kind is Kind.NETWORK:
            for m, _count in s.messages:
                t = d.fn(p, s, m)
                if t is not None:
                    yield Action(d.name, m), t


def record_all_logs(before: State, after: State) -> State:
    """raft.tla: ``allLogs' = allLogs \\cup {log[i] : i \\in Server}``, with the logs of the
    state before the step."""
    h = after.history
    all_logs = h.allLogs
    for srv in before.servers:
        all_logs = set_add(all_logs, srv.log)
    return after._replace(history=h._replace(allLogs=all_logs))


def record_ghost(before: State, label: tuple, after: State) -> State:
    """Our ghost variables after a step: who became leader in which term, and what each
    server's commitIndex newly covers (index, entry, the server's term)."""
    g = after.ghost
    elected, committed = g.elected, g.committed
    if label[0] == "BecomeLeader":
        i = label[1]
        elected = set_add(elected, (after.servers[i].currentTerm, i))
    for old, new in zip(before.servers, after.servers, strict=True):
        if new.commitIndex > old.commitIndex:
            top = min(new.commitIndex, len(new.log))
            for index in range(old.commitIndex + 1, top + 1):
                committed = set_add(committed, (index, new.log[index - 1], new.currentTerm))
    if elected is g.elected and committed is g.committed:
        return after
    return after._replace(ghost=Ghost(elected=elected, committed=committed))
