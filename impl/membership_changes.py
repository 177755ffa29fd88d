"""Changing the membership of a running cluster, one server at a time (dissertation chapter 4),
and handing leadership over (§3.10).

The rules, as ``MembershipChanges`` (a base of ``Node``) follows them:

* A configuration is a log entry, and a node uses the latest configuration in its log,
  committed or not (§4.1; ``membership.Configurations``). Elections, commitment, check-quorum
  and ReadIndex count majorities of that configuration (``tracker.ProgressTracker``).
* A leader adds or removes one server per configuration entry, so that every majority of the
  old configuration overlaps every majority of the new one (§4.1). It starts a change only when
  its latest configuration entry is committed (Figure 4.3, step 3) **and** an entry of its own
  term is committed, its no-op: the fix Ongaro announced on raft-dev in 2015. Without the
  second condition a leader may change a configuration inherited from a term whose own change
  is still pending elsewhere; two changes made from the same configuration in successive terms
  can leave two configurations whose majorities do not overlap, and two leaders in one term.
* A new server starts with an empty log and no vote. Before it counts, the leader replicates to
  it as a learner in rounds (§4.2.1): each round brings it up to the leader's last index at the
  round's start (by snapshot if that part of the log is compacted); once a round takes no more
  than an election timeout, the leader appends the configuration that adds it. A learner that
  stops answering, or does not catch up within ``Config.catch_up_rounds`` rounds, is dropped
  and the change fails, so a dead server is never added.
* A leader that removes itself keeps leading, without counting itself, until the entry that
  removes it is committed; then it steps down (§4.2.2). A removed server does not campaign.
* Leadership transfer (§3.10): the leader stops accepting commands, brings the target's log up
  to date, and sends it ``TimeoutNow``; the target starts an election at once (no PreVote
  round: its log is as up to date as the leader's, and the leader asked). If no new leader has
  taken over within an election timeout, the leader resumes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import (
    ADD_SERVER,
    CATCH_UP_ENDED,
    CATCH_UP_STARTED,
    CONFIGURATION_CHANGED,
    REMOVE_SERVER,
    TRANSFER_LEADERSHIP,
    Observer,
)
from .log import RaftLog
from .membership import Configurations, Membership, config_entry
from .messages import Message, NodeId, TimeoutNow
from .ready import ChangeResult, Outbox
from .role import NotLeader, Role
from .tracker import Progress, ProgressTracker

if TYPE_CHECKING:
    from .config import Config


class ConfigChangeRefused(Exception):
    """A membership change or transfer the leader cannot start now. ``retry`` is True when the
    obstacle passes by itself (a change or transfer in progress, the leader's no-op not yet
    committed), False when the request itself is wrong."""

    def __init__(self, reason: str, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class _CatchUp:
    """A learner the leader is catching up before it adds it (§4.2.1)."""

    __slots__ = ("node", "address", "request", "round_end", "round_ticks", "rounds", "idle")

    def __init__(self, node: NodeId, address: str, request: Any, round_end: int) -> None:
        self.node = node
        self.address = address
        self.request = request
        self.round_end = round_end  # the round ends when the learner has this index
        self.round_ticks = 0
        self.rounds = 1
        self.idle = 0  # ticks since the learner last answered


class _Transfer:
    """A leadership transfer in progress (§3.10)."""

    __slots__ = ("target", "ticks", "sent")

    def __init__(self, target: NodeId) -> None:
        self.target = target
        self.ticks = 0
        self.sent = False


class MembershipChanges:
    """Membership changes and leadership transfer; a base of ``Node``, whose state it uses."""

    if TYPE_CHECKING:
        id: NodeId
        config: Config
        term: int
        role: Role
        commit_index: int
        leader_id: NodeId | None
        log: RaftLog
        tracker: ProgressTracker
        configs: Configurations
        _observer: Observer | None
        _out: Outbox
        _catch_up: _CatchUp | None
        _transfer: _Transfer | None

        def _ensure_started(self) -> None: ...
        def _take_ready(self) -> Any: ...
        def _send(self, msg: Message) -> None: ...
        def _next_id(self) -> str: ...
        def _emit(self, kind: str, msg: Message | None = None, **info: Any) -> None: ...
        def _send_append(self, peer: NodeId, heartbeat: bool = False) -> bool: ...
        def _maybe_commit(self) -> None: ...
        def _become_candidate(self, transfer: bool = False) -> None: ...
        def _may_campaign(self) -> bool: ...

    # ------------------------------------------------------------------ public inputs

    @property
    def configuration(self) -> Membership:
        """The node's configuration: the latest in its log, committed or not (§4.1)."""
        return self.configs.latest

    @property
    def configuration_committed(self) -> bool:
        """True if the latest configuration entry is committed (known to this node)."""
        return self.commit_index >= self.configs.latest_index

    @property
    def learner(self) -> NodeId | None:
        """The server this leader is catching up before adding it, if any."""
        return self._catch_up.node if self._catch_up is not None else None

    @property
    def transferring_to(self) -> NodeId | None:
        """The target of the leadership transfer in progress, if any."""
        return self._transfer.target if self._transfer is not None else None

    def add_node(self, node: NodeId, address: str, request: Any = None) -> Any:
        """AddServer (dissertation §4.1, Figure 4.3): catch ``node`` up as a learner, then append
        the configuration that adds it. ``request`` comes back in a later ``Ready.changes`` with
        the entry's index, or with the reason the change failed. Raises ``NotLeader`` on other
        roles and ``ConfigChangeRefused`` if the change cannot start now."""
        self._ensure_started()
        self._check_leader()
        if node in self.configs.latest:
            raise ConfigChangeRefused(f"{node} is already a member", retry=False)
        self._check_change()
        c = self._catch_up = _CatchUp(node, address, request, self.log.last_index)
        self.tracker.add_learner(node, self.log.last_index + 1)
        if self._observer is not None:
            self._emit(CATCH_UP_STARTED, server=node)
        self._send_append(c.node)
        return self._take_ready()

    def remove_node(self, node: NodeId, request: Any = None) -> Any:
        """RemoveServer (dissertation §4.1, Figure 4.3): append the configuration without
        ``node``, which may be this leader itself (it steps down once the entry is committed,
        §4.2.2). ``request`` comes back in this call's ``Ready.changes``. Raises ``NotLeader``
        on other roles and ``ConfigChangeRefused`` if the change cannot be made now."""
        self._ensure_started()
        self._check_leader()
        config = self.configs.latest
        if node not in config:
            raise ConfigChangeRefused(f"{node} is not a member", retry=False)
        if len(config) == 1:
            raise ConfigChangeRefused(f"{node} is the last member", retry=False)
        self._check_change()
        index = self._append_configuration(config.removing(node), REMOVE_SERVER, node)
        self._out.changes.append(ChangeResult(request, index, self.term))
        return self._take_ready()

    def transfer_leadership(self, target: NodeId) -> Any:
        """Hand leadership to ``target`` (dissertation §3.10). Commands are refused (with
        ``NotLeader``) until the transfer ends: when ``target`` wins its election this node
        hears of the new term and follows; if that takes more than an election timeout, this
        node resumes as the leader."""
        self._ensure_started()
        self._check_leader()
        if target == self.id:
            return self._take_ready()
        if target not in self.configs.latest:
            raise ConfigChangeRefused(f"{target} is not a member", retry=False)
        if self._transfer is not None:
            if self._transfer.target == target:
                return self._take_ready()
            raise ConfigChangeRefused(
                f"a transfer to {self._transfer.target} is in progress", retry=True
            )
        self._transfer = _Transfer(target)
        if self._observer is not None:
            self._emit(TRANSFER_LEADERSHIP, target=target)
        pr = self.tracker.get(target)
        if pr is not None and pr.match == self.log.last_index:
            self._send_timeout_now(self._transfer)
        else:
            self._send_append(target)
        return self._take_ready()

    # ------------------------------------------------------------------ the rules

    def _may_change_configuration(self) -> str | None:
        """Why this leader may not append a configuration entry now (None: it may): the latest
        configuration entry must be committed (Figure 4.3), an entry of the leader's own term
        must be committed (the fix of 2015), and no other change or transfer may be under
        way."""
        if self.commit_index < self.configs.latest_index:
            return "the previous configuration change is not committed yet"
        if self.log.term_at(self.commit_index) != self.term:
            return "the leader has not committed an entry of its term yet"
        if self._catch_up is not None:
            return f"{self._catch_up.node} is being added"
        if self._transfer is not None:
            return f"leadership is being transferred to {self._transfer.target}"
        return None

    def _check_leader(self) -> None:
        if self.role != Role.LEADER:
            raise NotLeader(self.leader_id)

    def _check_change(self) -> None:
        reason = self._may_change_configuration()
        if reason is not None:
            raise ConfigChangeRefused(reason, retry=True)

    def _append_configuration(self, new: Membership, kind: str, server: NodeId) -> int:
        """Append the configuration entry that makes ``new`` the configuration; it takes effect
        at once, committed or not (§4.1)."""
        index = self.log.last_index + 1
        entry = config_entry(self.term, index, new)
        self.log.append([entry])
        self._out.entries.append(entry)
        self.configs.appended([entry])
        if self._observer is not None:
            self._emit(kind, server=server, index=index, term=self.term, members=list(new.ids))
        self._config_changed("append")
        self._maybe_commit()
        for peer in list(self.tracker.progress):
            self._send_append(peer)
        return index

    def _config_changed(self, cause: str) -> None:
        """The latest configuration in the log changed: count majorities in it; a leader
        replicates to its members (and to the learner it is catching up)."""
        latest = self.configs.latest
        self.tracker.voters = latest.ids
        if self.role == Role.LEADER:
            self.tracker.sync_progress(self.log.last_index + 1, self.learner)
        if self._observer is not None:
            self._emit(
                CONFIGURATION_CHANGED,
                members=list(latest.ids),
                index=self.configs.latest_index,
                cause=cause,
            )

    # ------------------------------------------------------------------ catching a learner up

    def _learner_caught_up(self, c: _CatchUp) -> bool:
        """Whether the learner's round is over and was short enough; starts the next round if it
        was too long (and gives up after the last one)."""
        pr = self.tracker[c.node]
        if pr.match < c.round_end:
            return False
        if c.round_ticks <= self.config.election_tick:
            return True
        if c.rounds >= self.config.catch_up_rounds:
            self._end_catch_up("abandoned", f"{c.node} did not catch up in {c.rounds} rounds")
            return False
        c.rounds += 1
        c.round_end = self.log.last_index
        c.round_ticks = 0
        return False

    def _learner_answered(self, peer: NodeId, pr: Progress) -> None:
        """An answer from ``peer`` reached the leader (called on every answer)."""
        c = self._catch_up
        if c is not None and peer == c.node:
            c.idle = 0
            if self._learner_caught_up(c):
                self._end_catch_up("added")
        t = self._transfer
        if t is not None and peer == t.target and not t.sent and pr.match == self.log.last_index:
            self._send_timeout_now(t)

    def _end_catch_up(self, outcome: str, reason: str = "") -> None:
        c = self._catch_up
        assert c is not None
        self._catch_up = None
        if self._observer is not None:
            self._emit(CATCH_UP_ENDED, server=c.node, outcome=outcome, reason=reason)
        if outcome == "added":
            new = self.configs.latest.adding(c.node, c.address)
            index = self._append_configuration(new, ADD_SERVER, c.node)
            self._out.changes.append(ChangeResult(c.request, index, self.term))
            return
        self.tracker.progress.pop(c.node, None)
        retry = outcome == "leadership lost"
        self._out.changes.append(ChangeResult(c.request, 0, 0, reason or outcome, retry))

    def _tick_changes(self) -> None:
        """A leader's tick: a learner that stays silent too long is dropped; a transfer that
        does not complete within an election timeout is abandoned."""
        c = self._catch_up
        if c is not None:
            c.round_ticks += 1
            c.idle += 1
            if c.idle >= self.config.stall_ticks:
                self._end_catch_up("abandoned", f"no answer from {c.node} for {c.idle} ticks")
        t = self._transfer
        if t is not None:
            t.ticks += 1
            if t.ticks >= self.config.election_tick:
                self._transfer = None

    def _leadership_lost(self) -> None:
        """This node stopped leading: a change in progress fails, a transfer is over."""
        if self._catch_up is not None:
            self._end_catch_up("leadership lost", "leadership lost; retry with the new leader")
        self._transfer = None

    # ------------------------------------------------------------------ leadership transfer

    def _send_timeout_now(self, t: _Transfer) -> None:
        t.sent = True
        self._send(TimeoutNow(self.term, self.id, t.target, self._next_id()))

    def _handle_timeout_now(self, m: TimeoutNow) -> None:
        # §3.10: the leader's log is no longer than ours, so an election now cannot lose entries;
        # a node that may not campaign, or already leads, has nothing to do.
        if self.role != Role.LEADER and self._may_campaign():
            self._become_candidate(transfer=True)
