"""The trace format: the schema accepts what impl/ writes; malformed input gets exit status 2 with
a one-line error naming file, line and field; per-node files merge by send/receive causality."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import jsonschema
import pytest
from raftkit.impl.cli import main as raftkv
from raftkit.impl.testing.sim import SimConfig
from raftkit.modelcheck.cli import main as raftmc

from .helpers import malformed as _bad
from .helpers import sim_trace

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs/schemas/trace-event.schema.json").read_text())


@pytest.fixture(scope="module")
def trace_lines() -> list[str]:
    return sim_trace(SimConfig(crash_rate=0.02, snapshot_every=8), 3)


def _schema_kinds(lines: list[str]) -> set[str]:
    """The event kinds of these lines, each line valid by the schema."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    kinds = set()
    for line in lines:
        obj = json.loads(line)
        validator.validate(obj)
        kinds.add(obj["event"])
    return kinds


def test_schema_accepts_what_impl_writes(trace_lines):
    kinds = _schema_kinds(trace_lines)
    # The run exercised most of the vocabulary (faults, snapshots, elections).
    assert {"Restart", "Send", "Receive", "BecomeLeader", "ClientRequest"} <= kinds
    assert {"AdvanceCommitIndex", "Compacted", "BecomePreCandidate"} <= kinds


def test_schema_accepts_the_membership_events_impl_writes():
    lines = sim_trace(SimConfig(spares=2, change_rate=0.05), 1)
    kinds = _schema_kinds(lines)
    assert {"AddServer", "RemoveServer", "ConfigurationChanged", "CatchUpStarted"} <= kinds
    # And refuses a membership event without its field, or a configuration of no one.
    validator = jsonschema.Draft202012Validator(SCHEMA)
    bad = json.loads(next(x for x in lines if '"AddServer"' in x))
    del bad["info"]["server"]
    assert not validator.is_valid(bad)
    bad = json.loads(next(x for x in lines if '"ConfigurationChanged"' in x))
    bad["info"]["members"] = []
    assert not validator.is_valid(bad)


def test_simulate_then_conform_two_commands(tmp_path, capsys):
    trace = tmp_path / "run.jsonl"
    assert raftkv(["simulate", "--nodes", "3", "--seed", "7", "--steps", "200",
                   "--trace", str(trace)]) == 0  # fmt: skip
    capsys.readouterr()
    assert raftmc(["conform", str(trace)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("conforms: ") and " events, " in out and " spec steps" in out


def test_json_output(tmp_path, capsys, trace_lines):
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(trace_lines) + "\n")
    assert raftmc(["conform", "--json", str(trace)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "conforms"
    assert out["events"] == len(trace_lines) and out["spec_steps"] > 0


def test_per_node_files_merge_by_causality(tmp_path, capsys, trace_lines):
    by_node: dict[str, list[str]] = defaultdict(list)
    for line in trace_lines:
        by_node[json.loads(line)["node"]].append(line)
    paths = []
    # Reverse order on purpose: the merge must not depend on the files' order.
    for node in sorted(by_node, reverse=True):
        p = tmp_path / f"{node}.jsonl"
        p.write_text("\n".join(by_node[node]) + "\n")
        paths.append(str(p))
    assert raftmc(["conform", "--json", *paths]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == len(trace_lines)


def test_malformed_json(tmp_path, capsys, trace_lines):
    err = _bad(tmp_path, [trace_lines[0], '{"node": "n1", "event": '], capsys)
    assert "bad.jsonl:2" in err and "not JSON" in err


def test_missing_field(tmp_path, capsys, trace_lines):
    obj = json.loads(trace_lines[0])
    del obj["state"]["term"]
    err = _bad(tmp_path, [json.dumps(obj)], capsys)
    assert "bad.jsonl:1" in err and "'state.term'" in err and "missing" in err


def test_missing_message_field_is_unobserved_but_wrong_type_is_not(tmp_path, capsys, trace_lines):
    # An absent field is one the implementation does not carry: the spec decides it.
    lines = list(trace_lines)
    k = next(k for k, x in enumerate(lines) if '"type":"AppendEntries"' in x)
    obj = json.loads(lines[k])
    del obj["msg"]["prev_log_term"]
    lines[k] = json.dumps(obj)
    path = tmp_path / "absent.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert raftmc(["conform", str(path)]) == 0
    # A field that is there must be well formed.
    obj["msg"]["prev_log_term"] = "two"
    lines[k] = json.dumps(obj)
    err = _bad(tmp_path, lines, capsys)
    assert f"bad.jsonl:{k + 1}" in err and "'msg.prev_log_term'" in err


def test_unknown_event(tmp_path, capsys, trace_lines):
    obj = json.loads(trace_lines[0])
    obj["event"] = "Teleport"
    err = _bad(tmp_path, [json.dumps(obj)], capsys)
    assert "'event'" in err and "unknown event 'Teleport'" in err


def test_receive_without_send(tmp_path, capsys, trace_lines):
    lines = [x for x in trace_lines if '"event":"Send"' not in x]
    first = next(k for k, x in enumerate(lines) if '"event":"Receive"' in x)
    err = _bad(tmp_path, lines, capsys)
    assert f"bad.jsonl:{first + 1}" in err and "'msg.id'" in err and "without its send" in err


def test_receive_before_send_in_one_file(tmp_path, capsys, trace_lines):
    lines = list(trace_lines)
    k = next(k for k, x in enumerate(lines) if '"event":"Receive"' in x)
    mid = json.loads(lines[k])["msg"]["id"]
    s = next(s for s, x in enumerate(lines) if '"event":"Send"' in x and f'"id":"{mid}"' in x)
    lines.insert(s, lines.pop(k))
    err = _bad(tmp_path, lines, capsys)
    assert "before its send" in err


def test_unreadable_file(tmp_path, capsys):
    assert raftmc(["conform", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_empty_trace_is_refused_not_passed(tmp_path, capsys):
    empty, blank = tmp_path / "empty.jsonl", tmp_path / "blank.jsonl"
    empty.write_text("")
    blank.write_text("\n\n")
    assert raftmc(["conform", str(empty), str(blank)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no events" in err[0] and str(empty) in err[0]


def _a_vote_never_cast(tmp_path, trace_lines):
    """A trace whose node claims a term (a vote) it never reached, and that event's index."""
    lines = list(trace_lines)
    k = next(k for k, x in enumerate(lines) if '"event":"BecomeCandidate"' in x)
    obj = json.loads(lines[k])
    obj["state"]["term"] += 1
    lines[k] = json.dumps(obj)
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(lines) + "\n")
    return trace, k


def test_failure_report_with_pictures(tmp_path, capsys, trace_lines):
    # A node that claims a vote it never cast: the report names the event and draws the spec.
    trace, k = _a_vote_never_cast(tmp_path, trace_lines)
    report = tmp_path / "report"
    assert raftmc(["conform", "--report", str(report), str(trace)]) == 1
    out = capsys.readouterr().out
    assert f"event {k + 1} " in out and "candidate actions and why each fails" in out
    assert "term: " in out and "≠" in out
    page = (report / "index.html").read_text()
    assert "first event the spec cannot explain" in page
    assert "<svg" in page or "no pictures" in page
    assert raftmc(["conform", "--json", str(trace)]) == 1
    failure = json.loads(capsys.readouterr().out)["failure"]
    assert failure["line"] == k + 1 and failure["candidates"]


def test_report_under_a_file_is_refused_before_replaying(tmp_path, capsys, trace_lines):
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(trace_lines) + "\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert raftmc(["conform", "--report", str(blocker / "report"), str(trace)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--report: cannot create" in err[0] and "not a directory" in err[0]


def test_a_report_that_cannot_be_written_keeps_the_verdict(
    tmp_path, capsys, trace_lines, monkeypatch
):
    # The disk failing while the report is written: the failure was printed first, exit 4.
    from raftkit.modelcheck.cli import conform as cli_conform

    trace, k = _a_vote_never_cast(tmp_path, trace_lines)

    def full(directory, outcome):
        raise OSError(28, "No space left on device", str(Path(directory) / "index.html"))

    monkeypatch.setattr(cli_conform, "write_report", full)
    assert raftmc(["conform", "--report", str(tmp_path / "r"), str(trace)]) == 4
    captured = capsys.readouterr()
    assert f"event {k + 1} " in captured.out
    err = captured.err.strip().splitlines()
    assert err == [f"raftmc: error: {tmp_path / 'r' / 'index.html'}: No space left on device"]
