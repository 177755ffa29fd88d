"""What the validator accepts and reports beyond one atomic spec step per event: effects logged
in the implementation's order, raft.tla's match index, required replies and handling, every
deviation with --keep-going, messages from outside and unobserved fields, and the errors a
person gets (JSON always with --json, a junk byte's line, a report without Graphviz)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from raftkit.impl.testing.sim import SimConfig
from raftkit.modelcheck.cli import main as raftmc
from raftkit.modelcheck.conformance import conform_lines
from raftkit.modelcheck.conformance.rules import LIVENESS, RULE_AE_REPLY, RULE_RV_REPLY, SAFETY
from raftkit.modelcheck.pictures import dot

from .helpers import sim_trace

PEERS = ["n1", "n2", "n3"]


class Trace:
    """A hand-written trace of three nodes, one event per call."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ids = 0

    def ev(self, node: str, kind: str, st: tuple, msg: dict | None = None, **info: Any) -> int:
        term, vote, role, commit, length, last = st
        obj: dict[str, Any] = {
            "node": node,
            "event": kind,
            "state": {"term": term, "vote": vote, "role": role, "commit_index": commit,
                      "log_length": length, "last_log_term": last},
        }  # fmt: skip
        if msg is not None:
            obj["msg"] = msg
        if info:
            obj["info"] = info
        self.lines.append(json.dumps(obj))
        return len(self.lines)

    def msg(self, typ: str, src: str, dst: str, term: int | None, **fields: Any) -> dict:
        self.ids += 1
        m = {"type": typ, "id": f"{src}.{self.ids}", "src": src, "dst": dst, **fields}
        if term is not None:
            m["term"] = term
        return m


F0 = (1, None, "follower", 0, 0, 0)


def elected() -> tuple[Trace, dict[str, tuple]]:
    """n1 leads term 2 with n2's vote, has one entry replicated on n2 and committed; n3 has
    heard nothing. Returns the trace and each node's state."""
    t = Trace()
    for n in PEERS:
        t.ev(n, "Restart", F0, peers=PEERS)
    c = (2, "n1", "candidate", 0, 0, 0)
    t.ev("n1", "BecomeCandidate", c)
    rv = t.msg("RequestVote", "n1", "n2", 2, last_log_index=0, last_log_term=0)
    t.ev("n1", "Send", c, rv)
    f2 = (2, "n1", "follower", 0, 0, 0)
    t.ev("n2", "Receive", F0, rv)
    grant = t.msg("RequestVoteResponse", "n2", "n1", 2, vote_granted=True)
    t.ev("n2", "Send", f2, grant)
    t.ev("n1", "Receive", c, grant)
    lead = (2, "n1", "leader", 0, 0, 0)
    t.ev("n1", "BecomeLeader", lead)
    lead = (2, "n1", "leader", 0, 1, 2)
    t.ev("n1", "ClientRequest", lead)
    ae = t.msg("AppendEntries", "n1", "n2", 2, prev_log_index=0, prev_log_term=0,
               entries=[[2, 1, "normal", ""]], leader_commit=0)  # fmt: skip
    t.ev("n1", "Send", lead, ae)
    t.ev("n2", "Receive", f2, ae)
    f2 = (2, "n1", "follower", 0, 1, 2)
    t.ev("n2", "EntriesAppended", f2)
    ok = t.msg("AppendEntriesResponse", "n2", "n1", 2, success=True, match_index=1)
    t.ev("n2", "Send", f2, ok)
    t.ev("n1", "Receive", lead, ok)
    lead = (2, "n1", "leader", 1, 1, 2)
    t.ev("n1", "AdvanceCommitIndex", lead)
    return t, {"n1": lead, "n2": f2, "n3": F0}


def heartbeat(t: Trace, st: dict[str, tuple], dst: str, prev: int, commit: int) -> dict:
    m = t.msg("AppendEntries", "n1", dst, st["n1"][0], prev_log_index=prev,
              prev_log_term=2 if prev else 0, entries=[], leader_commit=commit)  # fmt: skip
    t.ev("n1", "Send", st["n1"], m)
    return m


def heartbeat_answered(t: Trace, st: dict[str, tuple], match: int) -> tuple[dict, int]:
    """n1's heartbeat carrying commit 1 to n2, and n2's success reply with this match index,
    sent before n2 moves its commit index. The reply and its line."""
    m = heartbeat(t, st, "n2", 1, 1)
    t.ev("n2", "Receive", st["n2"], m)
    reply = t.msg("AppendEntriesResponse", "n2", "n1", 2, success=True, match_index=match)
    return reply, t.ev("n2", "Send", st["n2"], reply)


def heartbeat_committed(t: Trace, st: dict[str, tuple]) -> tuple:
    """n1's heartbeat carrying commit 1 received by n2, which commits; n2's state after."""
    m = heartbeat(t, st, "n2", 1, 1)
    t.ev("n2", "Receive", st["n2"], m)
    f2 = (2, "n1", "follower", 1, 1, 2)
    t.ev("n2", "AdvanceCommitIndex", f2)
    return f2


def test_the_base_trace_conforms():
    t, _ = elected()
    assert conform_lines(t.lines).ok


def test_a_follower_may_reply_before_its_commit_index_moves():
    t, st = elected()
    reply, _ = heartbeat_answered(t, st, 1)  # commit index still 0: rule 5 comes after it
    t.ev("n2", "AdvanceCommitIndex", (2, "n1", "follower", 1, 1, 2))
    t.ev("n1", "Receive", st["n1"], reply)
    out = conform_lines(t.lines)
    assert out.ok, out.failure and out.failure.to_json()


def test_an_effect_never_logged_is_caught_at_the_next_receive():
    t, st = elected()
    heartbeat_answered(t, st, 1)
    m2 = heartbeat(t, st, "n2", 1, 1)
    line = t.ev("n2", "Receive", st["n2"], m2)  # commit index never moved
    out = conform_lines(t.lines)
    assert not out.ok and out.failure.event.line == line


def test_raft_tla_match_index_conforms():
    t, st = elected()
    f2 = heartbeat_committed(t, st)
    t.ev("n2", "Send", f2, t.msg("AppendEntriesResponse", "n2", "n1", 2, success=True,
                                 match_index=1))  # fmt: skip
    # A request anchored before the follower's commit index: raft.tla acknowledges
    # prevLogIndex + len(entries) = 0; the spec's option may acknowledge the committed prefix.
    m = heartbeat(t, st, "n2", 0, 1)
    t.ev("n2", "Receive", f2, m)
    reply = t.msg("AppendEntriesResponse", "n2", "n1", 2, success=True, match_index=0)
    t.ev("n2", "Send", f2, reply)
    t.ev("n1", "Receive", st["n1"], reply)
    out = conform_lines(t.lines)
    assert out.ok, out.failure and out.failure.to_json()


def test_a_match_index_beyond_the_log_is_a_safety_deviation():
    t, st = elected()
    _, line = heartbeat_answered(t, st, 2)
    out = conform_lines(t.lines)
    assert not out.ok and out.failure.event.line == line and out.failure.cls == SAFETY


def test_an_ignored_stale_term_append_entries_is_a_liveness_deviation():
    t, st = elected()
    # n3 has moved on to term 3; a request of term 2 must be refused with n3's term.
    f3 = (3, "n2", "follower", 0, 0, 0)
    rv = t.msg("RequestVote", "n2", "n3", 3, last_log_index=1, last_log_term=2, external=True)
    t.ev("n3", "Receive", F0, rv)
    t.ev("n3", "Send", f3, t.msg("RequestVoteResponse", "n3", "n2", 3, vote_granted=True))
    m = heartbeat(t, st, "n3", 0, 1)
    t.ev("n3", "Receive", f3, m)  # ignored: no reply
    m2 = heartbeat(t, st, "n3", 0, 1)
    line = t.ev("n3", "Receive", f3, m2)
    out = conform_lines(t.lines, keep_going=True)
    assert [(d.line, d.rule, d.cls) for d in out.deviations] == [(line, RULE_AE_REPLY, LIVENESS)]


def test_an_unanswered_request_vote_is_a_liveness_deviation():
    t, st = elected()
    rv = t.msg("RequestVote", "n2", "n3", 1, last_log_index=0, last_log_term=0, external=True)
    t.ev("n3", "Receive", F0, rv)  # never answered
    m = heartbeat(t, st, "n3", 0, 1)
    line = t.ev("n3", "Receive", F0, m)
    out = conform_lines(t.lines, keep_going=True)
    assert [(d.line, d.rule, d.cls) for d in out.deviations][:1] == [
        (line, RULE_RV_REPLY, LIVENESS)
    ]


def test_a_crash_before_the_reply_is_not_a_deviation():
    t, _st = elected()
    rv = t.msg("RequestVote", "n2", "n3", 1, last_log_index=0, last_log_term=0, external=True)
    t.ev("n3", "Receive", F0, rv)
    t.ev("n3", "Restart", F0, peers=PEERS)
    assert conform_lines(t.lines).ok


def three_deviations() -> tuple[list[str], list[int]]:
    """The base trace with three planted deviations: a term change with no reason, a vote
    granted twice in one term, and a commit index beyond what was replicated."""
    t, st = elected()
    lines = [t.ev("n3", "BecomeFollower", (5, None, "follower", 0, 0, 0))]
    rv = t.msg("RequestVote", "n3", "n2", 2, last_log_index=0, last_log_term=0, external=True)
    t.ev("n2", "Receive", st["n2"], rv)
    lines.append(t.ev("n2", "Send", (2, "n3", "follower", 0, 1, 2),
                      t.msg("RequestVoteResponse", "n2", "n3", 2, vote_granted=True)))  # fmt: skip
    lines.append(t.ev("n1", "AdvanceCommitIndex", (2, "n1", "leader", 3, 1, 2)))
    return t.lines, lines


def test_keep_going_json_lists_three_planted_deviations(tmp_path, capsys):
    lines, planted = three_deviations()
    path = tmp_path / "three.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert raftmc(["conform", "--keep-going", "--json", str(path)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "violation" and out["events"] == len(lines)
    assert [d["line"] for d in out["deviations"]] == planted
    assert all(d["class"] == SAFETY and d["rule"] for d in out["deviations"])
    # Without the flag: the first only, as before.
    assert raftmc(["conform", "--json", str(path)]) == 1
    first = json.loads(capsys.readouterr().out)
    assert first["failure"]["line"] == planted[0] and "deviations" not in first


def test_keep_going_text_ends_with_a_table_by_rule(tmp_path, capsys):
    lines, planted = three_deviations()
    path = tmp_path / "three.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert raftmc(["conform", "--keep-going", str(path)]) == 1
    text = capsys.readouterr().out
    assert "3 deviation(s)" in text
    table = text[text.index("deviations by rule:") :]
    assert table.count("safety") == 3 and f"three.jsonl:{planted[2]}" in table


def test_keep_going_on_a_conforming_trace_exits_zero(tmp_path, capsys):
    t, _ = elected()
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(t.lines) + "\n")
    assert raftmc(["conform", "--keep-going", str(path)]) == 0
    assert "conforms, no deviation" in capsys.readouterr().out


def test_a_message_from_outside_the_traced_nodes(tmp_path):
    t, st = elected()
    # A test harness injects a heartbeat "from n1" that n1's trace does not have.
    m = t.msg("AppendEntries", "n1", "n2", 2, prev_log_index=1, prev_log_term=2, entries=[],
              leader_commit=1, external=True)  # fmt: skip
    t.ev("n2", "Receive", st["n2"], m)
    f2 = (2, "n1", "follower", 1, 1, 2)
    t.ev("n2", "AdvanceCommitIndex", f2)
    t.ev("n2", "Send", f2, t.msg("AppendEntriesResponse", "n2", "n1", 2, success=True,
                                 match_index=1))  # fmt: skip
    assert conform_lines(t.lines).ok
    del m["leader_commit"]
    t.lines[-3] = t.lines[-3].replace(', "leader_commit": 1', "")
    path = tmp_path / "ext.jsonl"
    path.write_text("\n".join(t.lines) + "\n")
    assert raftmc(["conform", str(path)]) == 2


def test_unobserved_fields_are_left_to_the_spec():
    t, st = elected()
    f2 = heartbeat_committed(t, st)
    # The implementation's reply carries neither a term nor a match index.
    reply = t.msg("AppendEntriesResponse", "n2", "n1", None, success=True)
    t.ev("n2", "Send", f2, reply)
    t.ev("n1", "Receive", st["n1"], reply)
    assert conform_lines(t.lines).ok
    # ... but what it does carry is checked.
    bad = t.lines[-2].replace('"success": true', '"success": false')
    out = conform_lines([*t.lines[:-2], bad])
    assert not out.ok and out.failure.event.line == len(t.lines) - 1


def test_json_is_printed_for_malformed_input(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"node": "n1", "event": \n')
    assert raftmc(["conform", "--json", str(path)]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "error" and "bad.jsonl:1" in out["error"]


def test_a_junk_byte_names_its_line(tmp_path, capsys):
    t, _ = elected()
    data = ("\n".join(t.lines[:3]) + "\n").encode() + b'{"node": "n\xff"}\n'
    path = tmp_path / "junk.jsonl"
    path.write_bytes(data)
    assert raftmc(["conform", str(path)]) == 2
    err = capsys.readouterr().err
    assert "junk.jsonl:4" in err and "0xff" in err and "UTF-8" in err


def test_a_report_without_dot_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    lines, _ = three_deviations()
    path = tmp_path / "three.jsonl"
    path.write_text("\n".join(lines) + "\n")
    # Where raftmc looks for Graphviz's dot (pictures/dot.py): found nowhere.
    monkeypatch.setattr(dot.shutil, "which", lambda _name: None)
    report = tmp_path / "report"
    assert raftmc(["conform", "--report", str(report), str(path)]) == 1
    out = capsys.readouterr().out
    assert "apt-get install graphviz" in out
    assert "apt-get install graphviz" in (report / "index.html").read_text()


def test_the_limit_on_interpretations_names_the_event(tmp_path, capsys):
    t, st = elected()
    # A heartbeat without its leaderCommit: the spec's leader may send min(commitIndex, prev)
    # or its whole commitIndex, so n2 has two interpretations of what it received.
    m = t.msg("AppendEntries", "n1", "n2", 2, prev_log_index=0, prev_log_term=0, entries=[])
    t.ev("n1", "Send", st["n1"], m)
    line = t.ev("n2", "Receive", st["n2"], m)
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(t.lines) + "\n")
    assert raftmc(["conform", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["max_interpretations"] == 2
    assert raftmc(["conform", "--max-interpretations", "1", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"run.jsonl:{line}" in err and "2 interpretations" in err and "limit of 1" in err
    assert raftmc(["conform", "--json", "--max-interpretations", "1", str(path)]) == 3
    assert json.loads(capsys.readouterr().out)["result"] == "stopped"


@pytest.mark.parametrize("what", ["term", "index", "vote", "entry"])
def test_tampered_traces_are_rejected_at_their_line(what):
    lines = sim_trace(SimConfig(), 1)
    objs = [json.loads(x) for x in lines]
    k = _tamper(objs, what)
    lines[k] = json.dumps(objs[k])
    out = conform_lines(lines)
    assert not out.ok and out.failure.event.line == k + 1, (what, k + 1, out.failure.event.line)


def _tamper(objs: list[dict], what: str) -> int:
    """Change one value in the middle of the run; the index of the changed line."""
    start = len(objs) // 2
    for k in range(start, len(objs)):
        o, m = objs[k], objs[k].get("msg", {})
        if what == "term" and o["event"] == "Send" and m.get("type") == "AppendEntries":
            m["term"] += 1
            return k
        if what == "index" and o["event"] == "EntriesAppended":
            o["state"]["log_length"] += 1
            return k
        if what == "vote" and o["event"] == "Send" and m.get("type") == "RequestVoteResponse":
            m["vote_granted"] = not m["vote_granted"]
            return k
        if what == "entry" and m.get("type") == "AppendEntries" and m["entries"]:
            if o["event"] == "Send":
                m["entries"][0][0] += 1
                return k
    raise AssertionError(f"no event to tamper with ({what})")
