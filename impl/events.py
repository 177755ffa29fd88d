"""Protocol events for observers (conformance traces, debugging, metrics).

A node built with ``observer=callback`` calls ``callback(event)`` for every protocol event, in the
order the events happen inside the core. Each event carries the node's state *after* the event,
so a trace validator can compare it with the spec's state after the matching action. With no
observer the core only pays one ``is not None`` test per event site.

Event kinds (``Event.kind``) and what ``Event.msg`` / ``Event.info`` hold:

================== ======================= ================================================
kind               msg                     info
================== ======================= ================================================
Restart            --                      ``boot``: the boot counter given to the node
BecomeFollower     --                      ``leader``: known leader id or None
BecomePreCandidate --                      --
BecomeCandidate    --                      --  (term was incremented and vote cast for self)
BecomeLeader       --                      --
Send               the message sent        --
Receive            the message received    emitted before the core reacts to it
ClientRequest      --                      ``index``, ``term``, ``entry_kind`` of the new entry
                                           (also for the leader's no-op)
EntriesAppended    --                      ``first``, ``last``: follower appended these
                                           indices (after ``LogTruncated`` if any)
LogTruncated       --                      ``from_index``: entries >= this were removed
AdvanceCommitIndex --                      ``old``, ``new`` commit index
SnapshotInstalled  --                      ``index``, ``term`` of a snapshot from the leader
Compacted          --                      ``index``, ``term``: local log compaction
ReadIndexConfirmed --                      ``index``: a linearizable read may be served
AddServer          --                      ``server``, ``index``, ``term``, ``members``: the
                                           leader appended a configuration entry adding
                                           ``server`` (``members``: the new configuration)
RemoveServer       --                      the same, for a configuration entry removing
                                           ``server``
ConfigurationChanged --                    ``members``, ``index`` (of its entry; a snapshot's
                                           index, or 0 for the initial configuration),
                                           ``cause`` (``append``, ``truncate``, ``snapshot``,
                                           ``restart``): the latest configuration in the log
                                           is now this one (§4.1)
ConfigurationCommitted --                  ``members``, ``index``: the commit index reached the
                                           latest configuration entry
CatchUpStarted     --                      ``server``: the leader replicates to ``server`` as a
                                           learner before adding it (§4.2.1)
CatchUpEnded       --                      ``server``, ``outcome`` (``added``, ``abandoned``,
                                           ``leadership lost``), ``reason``
TransferLeadership --                      ``target``: the leader hands leadership over
                                           (§3.10); it sends ``TimeoutNow`` once the target's
                                           log is up to date
================== ======================= ================================================

``BecomeFollower`` has ``removed: true`` in its info when a leader steps down because the
committed configuration no longer names it (§4.2.2), and ``BecomeCandidate`` has
``transfer: true`` when a ``TimeoutNow`` started the election (no PreVote round).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .messages import Message, NodeId
from .role import Role

RESTART = "Restart"
BECOME_FOLLOWER = "BecomeFollower"
BECOME_PRECANDIDATE = "BecomePreCandidate"
BECOME_CANDIDATE = "BecomeCandidate"
BECOME_LEADER = "BecomeLeader"
SEND = "Send"
RECEIVE = "Receive"
CLIENT_REQUEST = "ClientRequest"
ENTRIES_APPENDED = "EntriesAppended"
LOG_TRUNCATED = "LogTruncated"
ADVANCE_COMMIT_INDEX = "AdvanceCommitIndex"
SNAPSHOT_INSTALLED = "SnapshotInstalled"
COMPACTED = "Compacted"
READ_INDEX_CONFIRMED = "ReadIndexConfirmed"
ADD_SERVER = "AddServer"
REMOVE_SERVER = "RemoveServer"
CONFIGURATION_CHANGED = "ConfigurationChanged"
CONFIGURATION_COMMITTED = "ConfigurationCommitted"
CATCH_UP_STARTED = "CatchUpStarted"
CATCH_UP_ENDED = "CatchUpEnded"
TRANSFER_LEADERSHIP = "TransferLeadership"

EVENT_KINDS = (
    RESTART, BECOME_FOLLOWER, BECOME_PRECANDIDATE, BECOME_CANDIDATE, BECOME_LEADER, SEND,
    RECEIVE, CLIENT_REQUEST, ENTRIES_APPENDED, LOG_TRUNCATED, ADVANCE_COMMIT_INDEX,
    SNAPSHOT_INSTALLED, COMPACTED, READ_INDEX_CONFIRMED, ADD_SERVER, REMOVE_SERVER,
    CONFIGURATION_CHANGED, CONFIGURATION_COMMITTED, CATCH_UP_STARTED, CATCH_UP_ENDED,
    TRANSFER_LEADERSHIP,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NodeState:
    """The node's protocol state as the spec sees it (plus snapshot position)."""

    term: int
    vote: NodeId | None
    role: Role
    commit_index: int
    log_length: int
    last_log_term: int
    snapshot_index: int = 0
    snapshot_term: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, e.g. for a JSON trace line."""
        return {
            "term": self.term,
            "vote": self.vote,
            "role": self.role.value,
            "commit_index": self.commit_index,
            "log_length": self.log_length,
            "last_log_term": self.last_log_term,
            "snapshot_index": self.snapshot_index,
            "snapshot_term": self.snapshot_term,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One protocol event at ``node``; ``state`` is the node's state after it."""

    node: NodeId
    kind: str
    state: NodeState
    msg: Message | None = None
    info: dict[str, Any] = field(default_factory=dict)


Observer = Callable[[Event], None]
