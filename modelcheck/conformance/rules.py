"""Deviations of a trace from the spec, named by the rule of Figure 2 they break and classified.

``raftmc conform`` reports each event that no interpretation of the trace explains. This module
turns what was observed against what the spec allows into a deviation: the rule of Figure 2 of
the Raft paper (or of the spec's options) that the implementation did not follow, and a class:

- ``safety``: the behaviour can break one of the five properties of the spec's model (Election
  Safety, Leader Append-Only, Log Matching, Leader Completeness, State Machine Safety): a vote
  the rules refuse, an entry or a match the log does not hold, a commit the rules do not allow,
  a log rewritten, persistent state lost.
- ``liveness/protocol``: the behaviour is safe on its own (doing less than the spec is always
  safe: the spec's network may lose any message) but the cluster may stall or slow down: a reply
  never sent, a higher term not adopted, a vote or an append refused that the rules grant. If
  such a node then does something unsafe, that later event is a deviation of its own.

The classification follows the field that differs, in the order of the checks below; a
deviation that fits none of them is ``safety`` with the generic rule, so that nothing unknown
is reported as harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SAFETY = "safety"
LIVENESS = "liveness/protocol"

# Figure 2's rules, in the paper's words where they are short enough.
RULE_PERSIST = "Persistent state (currentTerm, votedFor, log[]) survives a restart"
RULE_TERM = "All servers: a message with term T > currentTerm: set currentTerm = T, become follower"
RULE_AE_STALE = "AppendEntries receiver 1: reply false if term < currentTerm"
RULE_AE_MATCH = (
    "AppendEntries receiver 2: reply false if the log has no entry at prevLogIndex with prevLogTerm"
)
RULE_AE_APPEND = (
    "AppendEntries receiver 3-4: delete a conflicting entry and all after it; append new entries"
)
RULE_AE_COMMIT = "AppendEntries receiver 5: commitIndex = min(leaderCommit, index of last new one)"
RULE_AE_REPLY = "AppendEntries receiver: every request is answered (success, or false and the term)"
RULE_REPLY_TERM = "RPC replies carry the responder's currentTerm"
RULE_RV_REPLY = "RequestVote receiver: every request is answered (voteGranted true or false)"
RULE_RV_GRANT = (
    "RequestVote receiver 2: grant only if votedFor is null or candidateId and the candidate's "
    "log is at least as up-to-date"
)
RULE_RV_REFUSE = "RequestVote receiver 2: a vote the rules grant was refused"
RULE_CANDIDATE = "Candidates: on conversion, increment currentTerm and vote for self"
RULE_LEADER = "Candidates: become leader on votes from a majority of servers"
RULE_LEADER_COMMIT = (
    "Leaders: commit N only if a majority has matchIndex >= N and log[N].term == currentTerm"
)
RULE_LEADER_LOG = "Leaders: append-only; AppendEntries carries the leader's own entries"
RULE_LEADER_STEPDOWN = "All servers: a leader or candidate with a higher term seen becomes follower"
RULE_MONOTONE_COMMIT = "commitIndex only grows (volatile: reset only by a restart)"
RULE_HANDLE = "Every message received is handled by the rules of its RPC"
RULE_GENERIC = "No rule of Figure 2 gives this event from the spec's state"
# Membership changes (Ongaro's dissertation, chapter 4, and the fix of 2015).
RULE_CONFIG_OWN_TERM = (
    "Leaders: append a configuration entry only after an entry of the current term is committed "
    "(the 2015 fix of single-server changes)"
)
RULE_CONFIG_ONE_AT_A_TIME = (
    "Leaders: begin a configuration change only after the previous one is committed "
    "(dissertation Figure 4.3)"
)
RULE_CONFIG_CHANGE = (
    "AddServer/RemoveServer: a leader appends its configuration with one server added or removed "
    "(dissertation §4.1)"
)
RULE_CONFIG_LATEST = (
    "A server uses the latest configuration in its log, committed or not (dissertation §4.1)"
)

@dataclass(frozen=True)
class Deviation:
    """One event the spec cannot explain, with the rule it breaks and its class."""

    number: int
    path: str
    line: int
    node: str
    event: str
    rule: str
    cls: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "event_number": self.number,
            "file": self.path,
            "line": self.line,
            "node": self.node,
            "event": self.event,
            "rule": self.rule,
            "class": self.cls,
            "reason": self.reason,
        }


def classify_state(
    kind: str, expected: dict[str, Any], observed: dict[str, Any], before: dict[str, Any]
) -> tuple[str, str]:
    """The rule and class of an event whose reported state no run of spec steps gives.

    ``expected`` is the closest state the spec allows, ``observed`` what the event reports,
    ``before`` the spec's state of the node before the event (named as in the trace format)."""
    diff = {k for k in observed if k != "message" and expected.get(k) != observed.get(k)}
    if kind == "Restart":
        return RULE_PERSIST, SAFETY
    if "log_length" in diff or "last_log_term" in diff or "snapshot_index" in diff:
        if observed.get("role") == "leader" or kind == "ClientRequest":
            return RULE_LEADER_LOG, SAFETY
        return RULE_AE_APPEND, SAFETY
    if "commit_index" in diff:
        if observed["commit_index"] < before.get("commit_index", 0):
            return RULE_MONOTONE_COMMIT, LIVENESS
        if observed["commit_index"] < expected["commit_index"]:
            return RULE_AE_COMMIT, LIVENESS
        if observed.get("role") == "leader":
            return RULE_LEADER_COMMIT, SAFETY
        return RULE_AE_COMMIT, SAFETY
    if "term" in diff:
        if observed["term"] < expected["term"]:
            return RULE_TERM, LIVENESS
        if kind == "BecomeCandidate":
            return RULE_CANDIDATE, SAFETY
        return RULE_TERM, SAFETY
    if "role" in diff:
        if observed["role"] == "leader":
            return RULE_LEADER, SAFETY
        if observed["role"] == "follower" and kind == "BecomeFollower":
            # Becoming follower without a reason in the spec: safe, but not a step of Raft.
            return RULE_LEADER_STEPDOWN, LIVENESS
        if observed["role"] in ("candidate", "precandidate"):
            return RULE_CANDIDATE, SAFETY
        return RULE_TERM, LIVENESS
    if "vote" in diff:
        if observed["vote"] is None and before.get("vote") is not None:
            # A vote forgotten within its term lets the node vote twice.
            return RULE_PERSIST, SAFETY
        if observed["vote"] is None:
            return RULE_RV_REFUSE, LIVENESS
        return RULE_RV_GRANT, SAFETY
    return RULE_GENERIC, SAFETY


def classify_message(
    mtype: str, expected: tuple | None, observed: tuple, spec_term: int
) -> tuple[str, str]:
    """The rule and class of a sent message that no run of spec steps sends.

    ``expected`` is the closest message the spec sends (trace key form: type, term, src, dst,
    fields...) or None if it sends none of this type; ``observed`` the message in the trace;
    ``spec_term`` the node's term before the event."""
    obs_term = observed[1]
    if obs_term is not None and obs_term < spec_term:
        if mtype.endswith("Response"):
            # Answered from an older state (a term since left): the sender learns nothing new.
            return RULE_REPLY_TERM, LIVENESS
        return RULE_TERM, LIVENESS
    if obs_term is not None and expected is not None and obs_term < expected[1]:
        # The message's higher term was not adopted before answering.
        return RULE_TERM, LIVENESS
    if mtype == "RequestVoteResponse":
        if observed[4]:
            return RULE_RV_GRANT, SAFETY
        return RULE_RV_REFUSE, LIVENESS
    if mtype == "AppendEntriesResponse":
        success, match = observed[4], observed[5]
        if expected is None or expected[0] != mtype:
            return (RULE_AE_MATCH, SAFETY) if success else (RULE_AE_STALE, LIVENESS)
        if success and not expected[4]:
            return (RULE_AE_STALE if obs_term is not None and obs_term < expected[1]
                    else RULE_AE_MATCH), SAFETY  # fmt: skip
        if not success and expected[4]:
            return RULE_AE_MATCH, LIVENESS
        if success and match is not None and match > expected[5]:
            return RULE_AE_APPEND, SAFETY
        return RULE_AE_APPEND, LIVENESS
    if mtype == "AppendEntries":
        if expected is not None and observed[4:7] == expected[4:7]:
            # Only leaderCommit differs.
            return RULE_LEADER_COMMIT, SAFETY
        return RULE_LEADER_LOG, SAFETY
    if mtype in ("RequestVote", "PreVote"):
        return RULE_CANDIDATE, SAFETY
    return RULE_GENERIC, SAFETY


def reply_rule(mtype: str) -> str:
    """The rule a reply of this type, never sent, breaks."""
    if mtype in ("RequestVoteResponse", "PreVoteResponse"):
        return RULE_RV_REPLY
    if mtype == "AppendEntriesResponse":
        return RULE_AE_REPLY
    return RULE_HANDLE


def config_change_rule(leader: bool, previous_committed: bool, own_term_committed: bool) -> str:
    """The rule a configuration entry appended where the spec appends none breaks, from the
    spec's state of the leader before it."""
    if not leader:
        return RULE_LEADER_LOG
    if not previous_committed:
        return RULE_CONFIG_ONE_AT_A_TIME
    if not own_term_committed:
        return RULE_CONFIG_OWN_TERM
    return RULE_CONFIG_CHANGE
