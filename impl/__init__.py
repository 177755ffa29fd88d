"""raftkv: a Raft key-value store built around a sans-IO protocol core.

The public API is the core (``Node`` fed with ``tick``/``step``/``propose``/``read_index``,
each returning a ``Ready`` of IO to perform), its configuration, the Raft messages, the
key-value state machine, and the errors a caller handles. The process around the core
(``server``, ``transport``, ``storage``, ``cli``) and the test tooling (``testing``) are
imported from their own modules.
"""

from .client import Client, ClientError
from .config import Config
from .events import Event, NodeState, Observer
from .kv import Command, CommandError, KVStore
from .messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    InstallSnapshot,
    InstallSnapshotResponse,
    Message,
    NodeId,
    PreVote,
    PreVoteResponse,
    RequestVote,
    RequestVoteResponse,
    Snapshot,
    WireError,
    message_from_wire,
)
from .node import Node, NotLeader
from .ready import HardState, ReadState, Ready
from .role import Role
from .storage import StorageCorruption, StorageLocked

__all__ = [
    # the protocol core
    "Node", "Ready", "Config", "HardState", "ReadState", "Role",
    # observing it
    "Event", "NodeState", "Observer",
    # messages and log entries
    "Message", "RequestVote", "RequestVoteResponse", "PreVote", "PreVoteResponse",
    "AppendEntries", "AppendEntriesResponse", "InstallSnapshot", "InstallSnapshotResponse",
    "Entry", "Snapshot", "NodeId", "message_from_wire",
    # the state machine and its client
    "KVStore", "Command", "Client",
    # errors
    "NotLeader", "WireError", "CommandError", "StorageCorruption", "StorageLocked",
    "ClientError",
]  # fmt: skip
