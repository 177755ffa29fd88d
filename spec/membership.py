"""The membership option: single-server membership changes, as in Ongaro's dissertation §4.1,
with the fix announced on raft-dev in 2015.

Read beside chapter 4 of the dissertation ("Consensus: Bridging Theory and Practice", Ongaro,
2014) and the raft-dev post "bug in single-server membership changes" (Ongaro, July 2015). The
rules, quoted in the docstrings below:

* A configuration is a log entry; "a server always uses the latest configuration in its log,
  regardless of whether the entry is committed" (``configuration.py``).
* "The cluster leader ... appends the new configuration entry to its log" when a client asks it
  to add or remove a server (AddServer, RemoveServer). Only one server at a time: every
  majority of the old configuration then overlaps every majority of the new one (§4.1,
  Figure 4.2). "The leader ... is not allowed to begin a new configuration change until the
  previous one has committed" (Figure 4.3: "wait until previous configuration in log is
  committed").
* The fix of 2015: "a leader may not append a new configuration entry until it has committed
  an entry from its current term". Without it, two leaders of successive terms may each change
  the configuration they inherited, the two new configurations differ by two servers, and their
  majorities need not overlap: two leaders in one term (mutant
  ``config-change-before-noop-commit``).
* Elections and commitment count majorities of the server's current configuration: a candidate
  becomes leader with the votes of a majority of its configuration; a leader commits an entry
  stored by a majority of its configuration, counting itself only if it is a member (§4.2.2).
* "The leader steps down (returns to follower state) once it has committed the Cnew log entry"
  when Cnew does not include it (§4.2.2).
* "Servers process incoming RPC requests without consulting their current configurations"
  (§4.1): the handlers are raft.tla's. A server starts an election only while it is in its own
  configuration (a spare that has not joined, or a server that knows it was removed, stays
  quiet, as in etcd and hashicorp/raft; a removed server that has not heard of its removal
  still times out, which is the disruption §4.2.3 describes). Candidates and leaders send
  RequestVote and AppendEntries to the servers of their configuration.
* A new server starts with an empty log and no vote: the spares are in raft.tla's initial
  state. The catch-up rounds of §4.2.1 (a new server gets the log before it counts) only help
  availability; they are not modelled.

The rows below overlay ``Next`` by action name (``overlay``), after the other options, so the
guards apply to whichever form of an action is on (raft.tla's, or batch's AppendEntries, ...).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from . import actions as A
from . import options as O
from .action import ActionDef, Arg, each_server, local, register
from .configuration import (
    config_entry,
    config_index,
    configuration,
    is_majority,
)
from .mutants import Mutant
from .params import Params
from .state import Role, State

# --- helpers -------------------------------------------------------------------------------


def _config(p: Params, s: State, i: int) -> tuple[int, ...]:
    return configuration(p, s.servers[i].log)


def _may_stand(p: Params, s: State, i: int, config: tuple[int, ...]) -> bool:
    """Whether server i may start an election: it is in its own configuration, and the bound
    ``candidates`` (an action constraint of the model, not a rule of Raft) lets it.

    With ``stand_until_removed``, also a server that its latest configuration leaves out while
    that entry is not committed and the configuration before it names the server (§4.2.2: it
    "should still start new elections, as it might still be needed until the Cnew entry is
    committed"; its own vote does not count, ``is_majority``)."""
    if p.candidates and i >= p.candidates:
        return False
    if i in config:
        return True
    return p.stand_until_removed and _leaving(p, s, i)


def _leaving(p: Params, s: State, i: int) -> bool:
    """Whether i's latest configuration entry, not committed, removes i from the one before."""
    srv = s.servers[i]
    k = config_index(srv.log)
    return srv.commitIndex < k and i in configuration(p, srv.log[: k - 1])


def may_change_configuration(p: Params, s: State, i: int) -> bool:
    """Whether leader i may append a configuration entry now: its latest configuration entry is
    committed (Figure 4.3, AddServer/RemoveServer step 3), and an entry of its current term is
    committed (the fix of 2015). Each mutant of the option leaves out one of the two."""
    srv = s.servers[i]
    if srv.state != Role.Leader:
        return False
    commit = min(srv.commitIndex, len(srv.log))
    if config_index(srv.log) > commit and p.mutant is not Mutant.CONCURRENT_CONFIG_CHANGES:
        # (The mutant is the BUG of a second change while the first is uncommitted: the
        # configuration then moves two servers away from the last committed one.)
        return False
    if p.mutant is Mutant.CONFIG_CHANGE_BEFORE_NOOP_COMMIT:
        # BUG (the dissertation's rule before 2015): a new leader may change the configuration
        # it inherited before its own term has committed anything, while another configuration
        # change of an earlier term may still win; the two changes together differ by two
        # servers, and majorities of the two results need not overlap.
        return True
    # The leader's log has only entries of terms <= its own, in order: an entry of its term is
    # committed exactly when the entry at its commitIndex is of its term.
    return commit > 0 and srv.log[commit - 1].term == srv.currentTerm


def _append_config(s: State, i: int, new: tuple[int, ...]) -> State:
    srv = s.servers[i]
    entry = config_entry(srv.currentTerm, new)
    return A._set_server(s, i, srv._replace(log=srv.log + (entry,)))


# --- the new actions -----------------------------------------------------------------------


def add_server(p: Params, s: State, i: int, j: int) -> State | None:
    """AddServer(i, j): leader i appends the configuration C ∪ {j} (§4.1; Figure 4.3, AddServer
    RPC, "append new configuration entry to log (old configuration plus newServer)").

    C is i's current configuration; j is any server outside it (a spare, or a server removed
    earlier). Enabled only when ``may_change_configuration``.
    """
    config = _config(p, s, i)
    if j in config or not may_change_configuration(p, s, i):
        return None
    return _append_config(s, i, tuple(sorted((*config, j))))


def remove_server(p: Params, s: State, i: int, j: int) -> State | None:
    """RemoveServer(i, j): leader i appends the configuration C \\ {j} (§4.1; Figure 4.3,
    RemoveServer RPC, "append new configuration entry to log (old configuration without
    oldServer)"). j may be i itself (§4.2.2). A configuration never becomes empty.
    """
    config = _config(p, s, i)
    if j not in config or len(config) == 1 or not may_change_configuration(p, s, i):
        return None
    return _append_config(s, i, tuple(k for k in config if k != j))


# --- raft.tla's actions (and the options'), with majorities of the configuration ------------


def timeout(p: Params, s: State, i: int) -> State | None:
    """Timeout(i) with membership: only a server of its own configuration starts an election
    (with PreVote: with pre-votes from a majority of its configuration).

    §4.1: "a server always uses the latest configuration in its log"; a server outside it has
    no vote to offer itself and no majority to win.
    """
    config = _config(p, s, i)
    if not _may_stand(p, s, i, config):
        return None
    if not p.prevote:
        return A.timeout(p, s, i)
    srv = s.servers[i]
    if srv.state != Role.PreCandidate or not is_majority(srv.votesGranted, config):
        return None
    return O.start_election(p, s, i)


def prevote_timeout(p: Params, s: State, i: int) -> State | None:
    """PreVoteTimeout(i) with membership: only a server of its own configuration (§9.6, §4.1)."""
    if not _may_stand(p, s, i, _config(p, s, i)):
        return None
    return O.prevote_timeout(p, s, i)


def request_vote(p: Params, s: State, i: int, j: int) -> State | None:
    """RequestVote(i, j) with membership: a candidate asks the servers of its configuration
    (Figure 2, "send RequestVote RPCs to all other servers", the servers being those of the
    configuration, §4.1). A candidate that stands while being removed (``stand_until_removed``)
    still votes for itself (Figure 2, "vote for self"); the vote does not count (§4.2.2)."""
    if j not in _config(p, s, i) and not (j == i and p.stand_until_removed):
        return None
    return A.request_vote(p, s, i, j)


def request_prevote(p: Params, s: State, i: int, j: int) -> State | None:
    """RequestPreVote(i, j) with membership: to the servers of i's configuration (§9.6, §4.1)."""
    if j not in _config(p, s, i):
        return None
    return O.request_prevote(p, s, i, j)


def become_leader(p: Params, s: State, i: int) -> State | None:
    """BecomeLeader(i) with membership: votes from a majority of i's configuration (§4.1: the
    configuration is used "for elections and commitment"; votes of servers outside it do not
    count)."""
    srv = s.servers[i]
    if srv.state != Role.Candidate or not is_majority(srv.votesGranted, _config(p, s, i)):
        return None
    return A.lead(p, s, i)


def advance_commit_index(p: Params, s: State, i: int) -> State | None:
    """AdvanceCommitIndex(i) with membership: an entry of the current term stored by a majority
    of i's configuration is committed (Figure 2, with majorities of the configuration, §4.1); a
    leader outside its configuration does not count itself (§4.2.2: it "replicates log entries
    but does not count itself in majorities").

    §4.2.2: a leader removed by its latest configuration "steps down (returns to follower state)
    once it has committed the Cnew log entry".
    """
    srv = s.servers[i]
    if srv.state != Role.Leader:
        return None
    config = _config(p, s, i)
    commit = A.agreed_commit_index(p, srv, i, config, lambda agree: is_majority(agree, config))
    new = srv._replace(commitIndex=commit)
    if i not in config and commit >= config_index(srv.log) > 0:
        new = new._replace(state=Role.Follower)
    return A._set_server(s, i, new)


def append_entries(p: Params, s: State, i: int, j: int, *rest: Any) -> State | None:
    """AppendEntries(i, j, ...) with membership: a leader replicates to the servers of its
    configuration (§4.1: "the leader ... replicates log entries" to the servers of its latest
    configuration; a new server's catch-up starts with its AddServer entry). The message is
    the one raft.tla's (or batch's) AppendEntries sends. With ``catch_up``, also to servers
    outside it (§4.2.1: a new server receives the log as a non-voting member before it is
    added)."""
    if j not in _config(p, s, i) and not p.catch_up:
        return None
    return (O.append_entries if p.batch else A.append_entries)(p, s, i, j, *rest)


def send_snapshot(p: Params, s: State, i: int, j: int) -> State | None:
    """InstallSnapshot(i, j) with membership: to the servers of i's configuration (chapter 5,
    §4.1); with ``catch_up``, also to servers outside it (§4.2.1)."""
    if j not in _config(p, s, i) and not p.catch_up:
        return None
    return O.send_snapshot(p, s, i, j)


# --- Next ----------------------------------------------------------------------------------

# The rows the option guards or replaces, by action name: their function with membership.
_REPLACED = {
    "Timeout": timeout,
    "PreVoteTimeout": prevote_timeout,
    "RequestVote": request_vote,
    "RequestPreVote": request_prevote,
    "BecomeLeader": become_leader,
    "AdvanceCommitIndex": advance_commit_index,
    "AppendEntries": append_entries,
    "InstallSnapshot": send_snapshot,
}


def overlay(base: tuple[ActionDef, ...]) -> tuple[ActionDef, ...]:
    """``Next`` (raft.tla's overlaid by the other options) with membership: the rows above take
    their membership form (same name, arguments and enumeration), and AddServer and
    RemoveServer follow ClientRequest (they are client requests too)."""
    rows: list[ActionDef] = []
    for d in base:
        fn = _REPLACED.get(d.name)
        rows.append(d if fn is None else dataclasses.replace(d, fn=fn))
        if d.name == "ClientRequest":
            rows.append(local("AddServer", add_server, Arg.SERVER, each=each_server))
            rows.append(local("RemoveServer", remove_server, Arg.SERVER, each=each_server))
    return register(rows)
