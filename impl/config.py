"""Static configuration of one Raft node's protocol core."""

from __future__ import annotations

from dataclasses import dataclass

from .messages import NodeId


@dataclass(frozen=True)
class Config:
    """Knobs of the protocol core. Time is counted in ticks: the caller decides how long a tick is.

    - ``election_tick``: the election timeout is drawn uniformly from
      ``[election_tick, 2 * election_tick)`` after every reset (§5.2: randomized timeouts make
      split votes rare). Must be well above ``heartbeat_tick``.
    - ``heartbeat_tick``: a leader sends AppendEntries to every follower at least this often.
    - ``pre_vote``: run a PreVote round before a real election (dissertation §9.6), so that a
      node coming back from a partition does not bump everyone's term and depose a working leader.
    - ``check_quorum``: a leader that has not heard from a majority within an election timeout
      steps down, so clients of a partitioned leader are redirected instead of hanging.
    - ``max_entries_per_msg`` / ``max_bytes_per_msg``: batching bounds for one AppendEntries.
    - ``max_inflight``: AppendEntries messages a leader may have unacknowledged per follower
      once the follower is known to be in sync (pipelining).
    - ``peers``: the initial configuration, the members of a log without configuration entries
      (dissertation §4.1); ``addresses`` gives their addresses, which the core carries in
      configuration entries and never reads. A node whose id is not in ``peers`` is a spare: it
      neither votes nor campaigns until a configuration entry that names it reaches its log.
    - ``catch_up_rounds`` / ``catch_up_stall``: a leader adding a server first replicates to it
      as a non-voting learner, in rounds (§4.2.1); the server becomes a member once a round
      takes at most an election timeout. The leader gives up after ``catch_up_rounds`` rounds,
      or when the learner acknowledges nothing for ``catch_up_stall`` ticks (0: ten election
      timeouts).
    """

    id: NodeId
    peers: tuple[NodeId, ...]
    election_tick: int = 10
    heartbeat_tick: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    max_entries_per_msg: int = 256
    max_bytes_per_msg: int = 1 << 20
    max_inflight: int = 64
    addresses: tuple[tuple[NodeId, str], ...] = ()
    catch_up_rounds: int = 10
    catch_up_stall: int = 0

    def __post_init__(self) -> None:
        if not self.peers:
            raise ValueError("config: the initial configuration (peers) is empty")
        if len(set(self.peers)) != len(self.peers):
            raise ValueError(f"config: duplicate ids in peers {self.peers!r}")
        if self.heartbeat_tick < 1 or self.election_tick <= self.heartbeat_tick:
            raise ValueError("config: need 1 <= heartbeat_tick < election_tick")
        if self.max_entries_per_msg < 1 or self.max_inflight < 1:
            raise ValueError("config: max_entries_per_msg and max_inflight must be >= 1")
        if self.catch_up_rounds < 1 or self.catch_up_stall < 0:
            raise ValueError("config: need catch_up_rounds >= 1 and catch_up_stall >= 0")

    @property
    def stall_ticks(self) -> int:
        """Ticks without an answer after which a leader gives up catching a learner up."""
        return self.catch_up_stall or 10 * self.election_tick
