"""One consensual node (PyPI ``consensual`` 0.2.3, unmodified) in its own process, traced.

Run by ``record.py``; not a test. The library is used as published: this file subclasses its
``Node`` and overrides methods only to write an event after calling the library's own code, and
gives it a transport (consensual leaves the transport to the user: a ``Sender`` and something
that calls ``Node.receive``) over HTTP on 127.0.0.1.

Trace mapping (consensual's names on the left):

- SyncCall -> AppendEntries: prev_log_index = prefix_length, prev_log_term = prefix_term, entries
  = suffix, leader_commit = commit_length. SyncReply -> AppendEntriesResponse: success = status
  SUCCESS, match_index = accepted_length.
- VoteCall -> RequestVote (last_log_index = log_length, last_log_term = log_term). VoteReply ->
  RequestVoteResponse, vote_granted = status SUPPORTS (IGNORES and OPPOSES are refusals).
- A node's calls to itself (its own vote, a leader's sync of its own log) go through
  ``Node.receive`` directly, not over the network: they are not traced as messages; the vote
  shows in the next event's state.
- Indices: consensual counts lengths (prefix_length, commit_length, accepted_length), which are
  the spec's 1-based indices of the last entry; no sentinel entry.

Usage: node.py NAME PORT BOOT TRACE PEERS_JSON   (PEERS_JSON: {"n1": 7101, ...})
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import sys
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from consensual.core.raft.cluster import DisjointCluster
from consensual.core.raft.cluster_id import ClusterId
from consensual.core.raft.history import RegularHistory
from consensual.core.raft.messages import MessageKind, SyncStatus, VoteStatus
from consensual.core.raft.node import Node
from consensual.core.raft.role import Follower, RoleKind
from consensual.core.raft.sender import ReceiverUnavailable, Sender
from yarl import URL

HEARTBEAT = 0.3
# The trace ids of the call being sent and of its reply, per asyncio task: a node has many
# calls in flight at once, each awaited in its own task.
CALL_ID: contextvars.ContextVar[str] = contextvars.ContextVar("call_id", default="")
REPLY_ID: contextvars.ContextVar[str] = contextvars.ContextVar("reply_id", default="")
ROLE = {RoleKind.FOLLOWER: "follower", RoleKind.CANDIDATE: "candidate", RoleKind.LEADER: "leader"}


class Tracer:
    """Writes events as JSON Lines, flushed before a message leaves the process."""

    def __init__(self, path: str, name: str, boot: int, names: dict[str, str]) -> None:
        self.out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process
        self.name, self.boot, self.counter = name, boot, 0
        self.names = names  # consensual node id ("127.0.0.1:7101") -> trace name

    def new_id(self) -> str:
        self.counter += 1
        return f"{self.name}.{self.boot}.{self.counter}"

    def write(self, node: Node, event: str, msg: dict[str, Any] | None = None,
              info: dict[str, Any] | None = None) -> None:
        role = node._role
        log = node._history.log
        vote = role.supported_node_id
        rec: dict[str, Any] = {
            "node": self.name,
            "event": event,
            "state": {
                "term": role.term,
                "vote": None if vote is None else self.names[vote],
                "role": ROLE[role.kind],
                "commit_index": node._commit_length,
                "log_length": len(log),
                "last_log_term": log[-1].term if log else 0,
            },
        }
        if msg is not None:
            rec["msg"] = msg
        if info:
            rec["info"] = info
        self.out.write(json.dumps(rec) + "\n")
        self.out.flush()


def to_msg(tr: Tracer, kind: MessageKind, body: dict[str, Any], mid: str, src: str, dst: str,
           reply: bool) -> dict[str, Any] | None:
    """A consensual call or reply in the trace format; None for client calls (not Raft RPCs)."""
    head = {"id": mid, "src": tr.names[src], "dst": tr.names[dst], "term": body.get("term", 0)}
    if kind is MessageKind.VOTE and not reply:
        return {"type": "RequestVote", **head, "last_log_index": body["log_length"],
                "last_log_term": body["log_term"]}
    if kind is MessageKind.VOTE:
        return {"type": "RequestVoteResponse", **head,
                "vote_granted": body["status"] == VoteStatus.SUPPORTS,
                "status": VoteStatus(body["status"]).name}
    if kind is MessageKind.SYNC and not reply:
        prefix = body["prefix_length"]
        entries = [[r["term"], prefix + k + 1, "normal", ""] for k, r in enumerate(body["suffix"])]
        return {"type": "AppendEntries", **head, "prev_log_index": prefix,
                "prev_log_term": body["prefix_term"], "entries": entries,
                "leader_commit": body["commit_length"]}
    if kind is MessageKind.SYNC:
        return {"type": "AppendEntriesResponse", **head,
                "success": body["status"] == SyncStatus.SUCCESS,
                "match_index": body["accepted_length"], "status": SyncStatus(body["status"]).name}
    return None


class HttpSender(Sender):
    """POSTs a call to the peer's /raft/KIND and returns its reply; the trace id of the call and
    of the reply travel in a header. A partition is simulated here: calls to a blocked peer fail
    as if the peer were unreachable."""

    def __init__(self, urls: Any) -> None:
        self.urls = urls
        self.session: ClientSession | None = None
        self.blocked: set[str] = set()

    async def send(self, *, kind: MessageKind, message: Any, url: URL) -> Any:
        if url.authority in self.blocked:
            raise ReceiverUnavailable(url)
        assert self.session is not None
        try:
            async with self.session.post(
                url.with_path(f"/raft/{int(kind)}"), json=message,
                headers={"X-Trace-Id": CALL_ID.get()},
                timeout=ClientTimeout(total=HEARTBEAT / 3),
            ) as resp:
                if resp.status != 200:
                    raise ReceiverUnavailable(url)
                REPLY_ID.set(resp.headers.get("X-Trace-Id", ""))
                return await resp.json()
        except (TimeoutError, ClientError, OSError) as exc:
            raise ReceiverUnavailable(url) from exc


class TracedNode(Node):
    """consensual's Node with an event written after each step the trace shows."""

    __slots__ = ()
    tracer: Tracer  # set on the class by main(): Node has __slots__

    def _nominate(self) -> None:
        super()._nominate()
        self.tracer.write(self, "BecomeCandidate")

    def _lead(self) -> None:
        super()._lead()
        self.tracer.write(self, "BecomeLeader")

    def _withdraw(self, term: int) -> None:
        before = (self._role.kind, self._role.term)
        super()._withdraw(term)
        if before != (self._role.kind, self._role.term):
            self.tracer.write(self, "BecomeFollower")

    def _follow(self, leader_node_id: str) -> None:
        before = self._role.kind
        super()._follow(leader_node_id)
        if before is not RoleKind.FOLLOWER:
            self.tracer.write(self, "BecomeFollower")

    def _append_records(self, prefix_length: int, suffix: list) -> None:
        before = [r.term for r in self._history.log]
        super()._append_records(prefix_length, suffix)
        after = [r.term for r in self._history.log]
        if after != before:
            kind = "LogTruncated" if len(after) < len(before) else "EntriesAppended"
            self.tracer.write(self, kind)

    def _commit(self, records: Any) -> None:
        super()._commit(records)
        self.tracer.write(self, "AdvanceCommitIndex")

    async def _receive_log_call(self, call: Any) -> Any:
        before = len(self._history.log)
        reply = await super()._receive_log_call(call)
        if len(self._history.log) > before:
            self.tracer.write(self, "ClientRequest")
        return reply

    async def _send_json(self, node_id: str, kind: MessageKind,
                         message: dict[str, Any]) -> dict[str, Any]:
        if node_id == self._id:
            return await super()._send_json(node_id, kind, message)
        tr, sender = self.tracer, self._sender
        assert isinstance(sender, HttpSender)
        mid = tr.new_id()
        msg = to_msg(tr, kind, message, mid, self._id, node_id, reply=False)
        if msg is not None:
            tr.write(self, "Send", msg)
        CALL_ID.set(mid)
        REPLY_ID.set("")
        reply = await super()._send_json(node_id, kind, message)
        rid = REPLY_ID.get()
        rmsg = to_msg(tr, kind, reply, rid, node_id, self._id, reply=True)
        if rmsg is not None and rid:
            tr.write(self, "Receive", rmsg)
        return reply

    async def traced_receive(self, kind: MessageKind, message: dict[str, Any], call_id: str,
                             src: str) -> tuple[dict[str, Any], str]:
        """A call from another node: Receive, the library's handler, Send of its reply."""
        tr = self.tracer
        msg = to_msg(tr, kind, message, call_id, src, self._id, reply=False)
        if msg is not None:
            tr.write(self, "Receive", msg)
        reply = await self.receive(kind=kind, message=message)
        rid = tr.new_id()
        rmsg = to_msg(tr, kind, reply, rid, self._id, src, reply=True)
        if rmsg is not None:
            tr.write(self, "Send", rmsg)
        return reply, rid


def sender_of(kind: MessageKind, message: dict[str, Any]) -> str:
    return message["node_id"]


async def main() -> None:
    name, port, boot, trace, peers_json = sys.argv[1:6]
    peers: dict[str, int] = json.loads(peers_json)
    ids = {n: f"127.0.0.1:{p}" for n, p in peers.items()}
    names = {v: k for k, v in ids.items()}
    logging.basicConfig(level=logging.WARNING)
    tracer = Tracer(trace, name, int(boot), names)
    TracedNode.tracer = tracer
    urls = {ids[n]: URL(f"http://{ids[n]}") for n in peers}
    sender = HttpSender(list(urls.values()))
    loop = asyncio.get_running_loop()
    # The cluster is given at start (every node knows every node), as a node of an established
    # cluster would after a restart; consensual's own way to form one goes through membership
    # changes, which the spec does not model.
    cluster = DisjointCluster(ClusterId("raftkit-trace"), heartbeat=HEARTBEAT, nodes_urls=urls,
                              stable=True)
    # What consensual's Node.from_url gives a starting node: an empty history, term 0. The
    # library has no stable storage, so a restarted process starts the same way.
    node = TracedNode(ids[name], RegularHistory([]), Follower(term=0), cluster,
                      logger=logging.getLogger(name), loop=loop,
                      processors={"set": lambda _p: None}, sender=sender)
    tracer.write(node, "Restart", info={"peers": sorted(peers), "boot": int(boot)})
    sender.session = ClientSession()

    async def raft(request: web.Request) -> web.Response:
        kind = MessageKind(int(request.match_info["kind"]))
        body = await request.json()
        src = sender_of(kind, body)
        if src in sender.blocked:
            return web.Response(status=503)
        reply, rid = await node.traced_receive(kind, body, request.headers["X-Trace-Id"], src)
        return web.json_response(reply, headers={"X-Trace-Id": rid})

    async def enqueue(request: web.Request) -> web.Response:
        error = await node.enqueue("set", await request.json())
        return web.json_response({"error": error})

    async def partition(request: web.Request) -> web.Response:
        sender.blocked = {ids[n] for n in await request.json()}
        return web.json_response({})

    async def status(_request: web.Request) -> web.Response:
        r = node._role
        return web.json_response({"role": ROLE[r.kind], "term": r.term,
                                  "log": len(node._history.log), "commit": node._commit_length})

    app = web.Application()
    app.router.add_post("/raft/{kind}", raft)
    app.router.add_post("/control/enqueue", enqueue)
    app.router.add_post("/control/partition", partition)
    app.router.add_get("/control/status", status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(port)).start()
    # consensual starts a follower's election timer when it first hears from a leader; a node of
    # a cluster with no leader yet is started the way that path does it.
    node._start_reelection_timer()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
