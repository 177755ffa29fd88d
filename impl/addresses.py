"""Where a node listens: its Raft port (for peers) and its HTTP port (for clients).

``--cluster`` writes each node as ``id=host:raft_port:http_port``, and configuration entries
carry ``host:raft_port:http_port`` for each member, so that every node learns where a new member
listens from the log.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeAddress:
    id: str
    host: str
    raft_port: int
    http_port: int

    @property
    def http_endpoint(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def spec(self) -> str:
        """``host:raft_port:http_port``: how ``--cluster`` and configuration entries write it."""
        return f"{self.host}:{self.raft_port}:{self.http_port}"

    @staticmethod
    def parse(node: str, text: str) -> NodeAddress | None:
        """The address ``text`` (``host:raft_port:http_port``) of ``node``; None if it is not
        one."""
        pieces = text.rsplit(":", 2)
        if len(pieces) != 3 or not pieces[0]:
            return None
        host, raft, http = pieces
        ports = [int(p) for p in (raft, http) if p.isdigit() and 0 < int(p) < 65536]
        return NodeAddress(node, host, *ports) if len(ports) == 2 else None
