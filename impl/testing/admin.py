"""An operator who changes the membership of a simulated cluster while it runs.

Now and then (``SimConfig.change_rate`` per tick, one operation at a time) the operator asks the
node it believes leads to add a server that is not a member (a spare, or a server removed
earlier), to remove a member, or to hand leadership to another member, and follows redirects
as a client does. An add or remove is over when the leader reports its result (the entry's
index, or why it failed) or after a timeout (the leader crashed, or lost its leadership before
answering); a transfer is fire-and-forget. What happened is counted in ``stats``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..membership_changes import ConfigChangeRefused
from ..messages import NodeId
from ..node import Node
from ..ready import ChangeResult, Ready
from ..role import NotLeader

ADD, REMOVE, TRANSFER = "add", "remove", "transfer"


@dataclass
class _Operation:
    kind: str
    server: NodeId
    token: int
    started: int
    sent: int = -1


class Operator:
    """Drives membership changes through ``Node.add_node``/``remove_node``/``transfer_leadership``.

    ``node_of(id)`` gives a running node (None if it is down); ``handle(id, ready)`` hands a
    Ready back to the simulation.
    """

    def __init__(
        self,
        ids: tuple[NodeId, ...],
        rng: random.Random,
        node_of: Callable[[NodeId], Node | None],
        handle: Callable[[NodeId, Ready], None],
        timeout: int,
    ) -> None:
        self.ids = ids
        self.rng = rng
        self.node_of = node_of
        self.handle = handle
        self.timeout = timeout
        self.target = ids[0]
        self.op: _Operation | None = None
        self._tokens = 0
        self.stats = {"added": 0, "removed": 0, "failed": 0, "refused": 0, "transfers": 0,
                      "lost": 0}  # fmt: skip

    @property
    def idle(self) -> bool:
        """True if no operation is in progress."""
        return self.op is None

    def act(self, now: int, start: bool) -> None:
        """One tick: start an operation if ``start`` and none is in progress, else retry or
        time out the one in progress."""
        op = self.op
        if op is None:
            if start:
                self._start(now)
            return
        if now - op.started > self.timeout:
            self.stats["lost"] += 1
            self.op = None
        elif op.sent < 0:
            self._submit(op, now)

    def _start(self, now: int) -> None:
        node = self.node_of(self.target)
        if node is None or not node.is_leader:
            self.target = self.rng.choice(self.ids)
            return
        members = node.configuration.ids
        outside = [i for i in self.ids if i not in members]
        r = self.rng.random()
        if r < 0.4 and outside:
            kind, server = ADD, self.rng.choice(outside)
        elif r < 0.8 and len(members) > 1:
            kind, server = REMOVE, self.rng.choice(members)
        elif len(members) > 1:
            kind, server = TRANSFER, self.rng.choice([m for m in members if m != self.target])
        else:
            return
        self._tokens += 1
        self.op = _Operation(kind, server, self._tokens, now)
        self._submit(self.op, now)

    def ask(self, node: Node, kind: str, server: NodeId) -> bool:
        """Ask ``node`` for one change now, outside the operator's own schedule (a test's
        step); False if it refuses."""
        self._tokens += 1
        try:
            ready = _call(node, kind, server, -self._tokens)
        except (NotLeader, ConfigChangeRefused):
            return False
        self.handle(node.id, ready)
        return True

    def _submit(self, op: _Operation, now: int) -> None:
        node = self.node_of(self.target)
        if node is None:
            self.target = self.rng.choice(self.ids)
            return
        try:
            ready = _call(node, op.kind, op.server, op.token)
        except NotLeader as exc:
            self.target = exc.leader_id or self.rng.choice(self.ids)
            return
        except ConfigChangeRefused as exc:
            if not exc.retry:
                self.stats["refused"] += 1
                self.op = None
            return  # a change in progress: try again next tick
        op.sent = now
        if op.kind == TRANSFER:
            self.stats["transfers"] += 1
            self.op = None
        self.handle(self.target, ready)

    def results(self, changes: tuple[ChangeResult, ...]) -> None:
        """The results in a Ready: the operation in progress may be over."""
        op = self.op
        for ch in changes:
            if op is not None and ch.request == op.token:
                if ch.error is not None:
                    self.stats["failed"] += 1
                else:
                    self.stats["added" if op.kind == ADD else "removed"] += 1
                self.op = op = None


def _call(node: Node, kind: str, server: NodeId, token: int) -> Ready:
    if kind == ADD:
        return node.add_node(server, "", token)
    if kind == REMOVE:
        return node.remove_node(server, token)
    return node.transfer_leadership(server)
