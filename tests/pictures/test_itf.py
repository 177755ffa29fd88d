"""ITF export: valid against ITF's documented shape, and faithful to the trace."""

from __future__ import annotations

import json

import jsonschema
import pytest
from raftkit.modelcheck.pictures.itf import itf_int, trace_to_itf, write_itf

from .helpers import ELECT_AND_COMMIT, raft, schema, walk


@pytest.fixture(scope="module")
def itf_schema():
    s = schema("itf.schema.json")
    jsonschema.Draft202012Validator.check_schema(s)
    return s


def test_raft_trace_is_valid_itf(tmp_path, itf_schema):
    model = raft(history=True, ghost=True)
    steps = walk(model, ELECT_AND_COMMIT)
    path = write_itf(tmp_path / "t.itf.json", steps, format_label=model.format_label)
    data = json.loads(path.read_text())
    jsonschema.validate(data, itf_schema)
    assert len(data["states"]) == len(steps)
    for k, state in enumerate(data["states"]):
        assert state["#meta"]["index"] == k
        assert set(state) - {"#meta"} == set(data["vars"])
    assert data["states"][0]["#meta"]["action"] == "initial state"
    assert data["states"][-1]["#meta"]["action"] == "AdvanceCommitIndex(s1)"
    last = data["states"][-1]
    assert dict(map(tuple, last["state"]["#map"])) == {
        "s1": "Leader",
        "s2": "Follower",
        "s3": "Follower",
    }
    assert ["s1", [{"term": 2, "value": "v1"}]] in last["log"]["#map"]
    assert ["s1", {"#set": ["s1", "s2"]}] in last["votesGranted"]["#map"]
    assert {"elections", "allLogs", "voterLog", "ghostElected"} <= set(data["vars"])


def test_messages_are_a_bag_of_records(itf_schema):
    model = raft()
    steps = walk(model, ["Timeout s1", "RequestVote s1→s2"])
    data = trace_to_itf(steps)
    jsonschema.validate(data, itf_schema)
    ((message, count),) = data["states"][-1]["messages"]["#map"]
    assert count == 1
    assert message == {
        "mtype": "RequestVoteRequest",
        "mterm": 2,
        "mlastLogTerm": 0,
        "mlastLogIndex": 0,
        "msource": "s1",
        "mdest": "s2",
    }


def test_any_model_trace_and_big_integers(itf_schema):
    steps = [(None, 0), (("Inc",), 2**60)]
    data = trace_to_itf(steps, describe=lambda x: {"x": x, "seen": [x], "rec": {"a": None}})
    jsonschema.validate(data, itf_schema)
    assert data["states"][1]["x"] == {"#bigint": str(2**60)}
    assert itf_int(5) == 5


def test_schema_rejects_what_is_not_itf(itf_schema):
    bad = [
        {"states": []},  # no vars
        {"vars": ["x"], "states": [{"x": {"#set": 1}}]},
        {"vars": ["x"], "states": [{"x": {"#map": [[1]]}}]},
        {"vars": ["x"], "states": [{"x": 2**60}]},  # must be #bigint
        {"vars": ["x"], "states": [{"x": None}]},
    ]
    for doc in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, itf_schema)
