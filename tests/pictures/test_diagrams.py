"""Cluster diagrams and message-sequence charts: valid SVG showing what the trace did."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from raftkit.modelcheck.pictures.diagrams import (
    CHANGED_FILL,
    cluster_dot,
    cluster_svg,
    project,
    sequence_chart_svg,
    short_label,
    state_lines,
    term_colour,
    trace_cluster_svgs,
)

from .helpers import ELECT_AND_COMMIT, need, raft, walk

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def trace():
    return walk(raft(), ELECT_AND_COMMIT)


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    # Graphviz writes runs of spaces as no-break spaces.
    return ["".join(t.itertext()).replace("\xa0", " ") for t in root.iter(f"{SVG}text")]


def test_cluster_diagram_shows_every_server_and_message(trace):
    need("dot")
    before, after = trace[-2][1], trace[-1][1]
    svg = cluster_svg(after, before, "last step")
    words = " ".join(texts(svg))
    for name in ("s1  Leader", "s2  Follower", "s3  Follower", "commitIndex 1", "last step"):
        assert name in words
    # The step committed the entry: the commitIndex row is highlighted.
    assert CHANGED_FILL in svg
    assert "<!DOCTYPE" not in svg and "http://www.w3.org/Graphics" not in svg


def test_cluster_diagram_draws_messages_new_and_consumed(trace):
    # Step "HandleAEReq": consumes the request, sends the response.
    k = ELECT_AND_COMMIT.index("HandleAEResp AEResp s2→s1")
    dot = cluster_dot(trace[k][1], trace[k - 1][1]).source
    assert "consumed: AEReq t2 prev 0@0 [2] c0" in dot
    assert "AEResp t2 ok match 1" in dot
    assert "penwidth=2.5" in dot  # the new message is bold


def test_log_cells_coloured_by_term(trace):
    dot = cluster_dot(trace[-1][1], None, log_slots=1).source
    assert term_colour(2) in dot
    assert term_colour(1) != term_colour(2)


def test_one_picture_per_step_with_titles(trace):
    need("dot")
    pictures = trace_cluster_svgs(trace, "NothingCommitted")
    assert len(pictures) == len(trace)
    assert any("Step 1 of 16: initial state" in t for t in texts(pictures[0]))
    assert any("violates NothingCommitted" in t for t in texts(pictures[-1]))


def test_sequence_chart_arrows_roles_and_commits(trace):
    svg = sequence_chart_svg(trace, "NothingCommitted")
    root = ET.fromstring(svg)
    words = texts(svg)
    # Every message sent in the trace was received: 6 requests and responses, 2 to itself.
    arrows = [e for e in root.iter() if e.get("marker-end") == "url(#arrow)"]
    assert len(arrows) == 6
    assert sum(1 for e in root.iter(f"{SVG}path") if e.get("marker-end")) == 2
    assert "Candidate t2" in words and "Leader t2" in words
    assert "commit 1" in words and "+ 2v1" in words
    assert any(w.startswith("16. AdvanceCommit s1") for w in words)
    assert "violates NothingCommitted" in words[0]


def test_sequence_chart_dropped_and_in_flight_messages():
    model = raft(faults=True)
    steps = walk(
        model,
        ["Timeout s1", "RequestVote s1→s2", "RequestVote s1→s3", "DropMessage RVReq s1→s2"],
    )
    svg = sequence_chart_svg(steps)
    root = ET.fromstring(svg)
    dashed = [e for e in root.iter(f"{SVG}line") if e.get("marker-end") == "url(#arrow-faint)"]
    assert len(dashed) == 2  # one dropped, one still in flight
    assert "✕" in texts(svg)


def test_texts_for_graph_nodes_and_edges(trace):
    lines = state_lines(trace[-1][1])
    assert lines[0] == "s1 L t2 vote s1 log [2] c1"
    assert short_label(trace[7][0]) == "HandleRVReq RVReq s1→s2"
    assert project("roles+terms", trace[-1][1]) == ((0, 1), (0, 2), (2, 2))


def test_traces_from_elsewhere_with_labels_of_their_own(trace):
    # The conformance checker reports implementation traces: labels need not be the spec's.
    steps = [(None, trace[0][1])] + [
        (f"event {k}", state) if k % 2 else (("Observed", "s1", k), state)
        for k, (_label, state) in enumerate(trace[1:], start=1)
    ]
    svg = sequence_chart_svg(steps)
    words = texts(svg)
    assert "2. event 1" in words and "3. Observed(s1, 2)" in words
    need("dot")
    pictures = trace_cluster_svgs(steps[:3])
    assert any("event 1" in t for t in texts(pictures[1]))
