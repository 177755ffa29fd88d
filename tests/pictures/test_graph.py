"""The state graph: same states as the checker, drawable DOT, schema-valid JSON, smaller views."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import graphviz
import jsonschema
import pytest
from raftkit.modelcheck import check
from raftkit.modelcheck.cli.app import main
from raftkit.modelcheck.engine.graph import (
    explore,
    graph_to_dot,
    graph_to_json,
    quotient,
    quotient_to_dot,
    shortest_witness,
)
from raftkit.modelcheck.pictures.diagrams import project, short_label, state_lines
from raftkit.spec.model import RaftModel
from raftkit.spec.params import Params
from toy_models import Toy, props

from .helpers import NoLeader, need, schema

SMALL = ["--servers", "2", "--max-term", "2", "--max-log", "0"]


def counter(limit: int = 3) -> Toy:
    """x in 0..limit, +1 or reset to 0; 'x != 2' is the invariant it breaks."""

    def step(x):
        yield ("Inc",), x + 1
        yield ("Reset",), 0

    return Toy(
        inits=[0],
        step=step,
        bounds=lambda x: x <= limit,
        props=props(invariants={"NotTwo": lambda x: x != 2}),
        names=["Inc", "Reset"],
    )


def test_toy_graph_nodes_edges_and_violation():
    g = explore(counter())
    # 0 -> 1 -> 2 (violates, not expanded); resets back to 0.
    assert sorted(n.state for n in g.nodes.values()) == [0, 1, 2]
    assert [(e.source, e.target, e.label[0]) for e in g.edges] == [
        (0, 1, "Inc"),
        (0, 0, "Reset"),
        (1, 2, "Inc"),
        (1, 0, "Reset"),
    ]
    assert g.violating_ids() == [2]
    assert g.nodes[2].violations == ("NotTwo",)
    assert g.path_to(2) == [0, 1, 2]
    assert g.counterexample_edges() == {(0, 1), (1, 2)}


def test_raft_graph_has_the_checkers_distinct_states():
    for symmetry in (True, False):
        model = RaftModel(Params(servers=2, max_term=2, max_log=0), symmetry=symmetry)
        g = explore(model)
        assert g.complete
        assert len(g.nodes) == check(model).distinct_states
        # Depths as the checker counts them: the initial state is level 1.
        assert [n.depth for n in g.nodes.values() if n.initial] == [1]
        assert max(n.depth for n in g.nodes.values()) == check(model).depth


def test_max_nodes_marks_the_graph_incomplete():
    g = explore(RaftModel(Params(servers=2, max_term=2, max_log=0)), max_nodes=10)
    assert not g.complete and len(g.nodes) == 10
    assert any(n.unexpanded for n in g.nodes.values())


def test_dot_parses_and_marks_initial_violation_and_path():
    need("dot")
    model = NoLeader(Params(servers=2, max_term=2, max_log=0))
    g = explore(model)
    bad = g.violating_ids()
    assert bad
    view = g.restrict(g.counterexample_ids())
    dot = graph_to_dot(view, state_lines, short_label, "test")
    # Graphviz itself reads the DOT back: its JSON rendering lists our nodes and edges.
    layout = json.loads(graphviz.Source(dot.source).pipe(format="json", quiet=True))
    names = {o["name"] for o in layout["objects"] if "nodes" not in o}
    assert names == {str(i) for i in view.nodes}
    assert len(layout.get("edges", [])) == len({(e.source, e.target) for e in view.edges})
    source = dot.source
    assert "initial" in source and "VIOLATES NoLeader" in source
    assert "penwidth=3" in source  # the path to the violation is bold
    assert isinstance(model, RaftModel)


def test_graph_json_matches_schema():
    model = RaftModel(Params(servers=2, max_term=2, max_log=0))
    g = explore(model)
    data = {
        "parameters": {},
        "view": "state graph",
        **graph_to_json(g, model.describe, model.format_label),
    }
    jsonschema.validate(data, schema("state-graph.schema.json"))
    assert len(data["nodes"]) == g.total_nodes


def test_neighbourhood_and_quotient():
    g = explore(RaftModel(Params(servers=2, max_term=2, max_log=0)))
    assert g.neighbourhood(0, 0) == {0}
    near = g.neighbourhood(0, 2)
    assert 0 in near and all(g.nodes[i].depth <= 3 for i in near)
    q = quotient(g, lambda s: project("roles", s), "roles")
    assert sum(len(grp.members) for grp in q.groups) == len(g.nodes)
    assert sum(sum(c.values()) for c in q.edges.values()) == len(g.edges)
    assert {grp.key for grp in q.groups} == {(0, 0), (0, 1), (1, 1), (0, 2), (1, 2)} & {
        grp.key for grp in q.groups
    }
    dot = quotient_to_dot(q, lambda k: [str(k)])
    assert "×" in dot.source


def test_cli_graph_formats(tmp_path, capsys):
    need("dot")
    assert main(["graph", *SMALL]) == 0
    dot_text = capsys.readouterr().out
    assert dot_text.startswith("digraph")
    svg = tmp_path / "g.svg"
    assert main(["graph", *SMALL, "-o", str(svg)]) == 0
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    png = tmp_path / "g.png"
    assert main(["graph", *SMALL, "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    js = tmp_path / "g.json"
    assert main(["graph", *SMALL, "-o", str(js)]) == 0
    data = json.loads(js.read_text())
    jsonschema.validate(data, schema("state-graph.schema.json"))
    assert len(data["nodes"]) == 98


def test_cli_graph_too_large_says_how_large_and_offers_views(tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert main(["graph", *SMALL, "--node-limit", "20", "-o", str(out)]) == 3
    assert not out.exists()
    err = capsys.readouterr().err
    assert "98 states" in err
    assert "--around 0 --radius 1" in err and "--quotient roles+terms" in err
    assert "--counterexample-only" in err
    # Each view it offers does fit.
    assert main(["graph", *SMALL, "--node-limit", "20", "--around", "0", "--radius", "2"]) == 0
    assert main(["graph", *SMALL, "--node-limit", "20", "--quotient", "roles+terms"]) == 0
    assert main(["graph", *SMALL, "--node-limit", "20", "--counterexample-only"]) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--around", "5000"],
        ["--around", "0", "--quotient", "roles"],
        ["--quotient", "nonsense"],
        ["--format", "png"],
        ["--node-limit", "0"],
    ],
)
def test_cli_graph_bad_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["graph", *SMALL, *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("raftmc: error:") and len(err.strip().splitlines()) == 1


def test_out_of_bounds_violation_is_kept_but_not_expanded():
    model = counter(limit=1)  # x = 2 is outside the bounds, and breaks NotTwo
    g = explore(model)
    (bad,) = g.violating_ids()
    node = g.nodes[bad]
    assert node.state == 2 and not node.in_bounds and node.violations == ("NotTwo",)
    assert not [e for e in g.edges if e.source == bad]
    dot = graph_to_dot(g, lambda s: [f"x={s}"], lambda lb: lb[0])
    assert "outside bounds" in dot.source and "dashed" in dot.source


def test_graph_help_names_the_views(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["graph", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--around", "--radius", "--counterexample-only", "--quotient", "--node-limit"):
        assert flag in out
    assert "--max-term" in out and "--symmetry" in out  # the same model flags as check


def test_shortest_witness_of_a_state_and_of_a_step():
    steps = shortest_witness(counter(limit=5), lambda x: x == 3)
    assert steps == [(None, 0), (("Inc",), 1), (("Inc",), 2), (("Inc",), 3)]
    steps = shortest_witness(counter(limit=5), lambda a, lb, b: lb[0] == "Reset" and a == 1, True)
    assert steps == [(None, 0), (("Inc",), 1), (("Reset",), 0)]
    assert shortest_witness(counter(limit=5), lambda x: x == 9) is None
    model = RaftModel(Params(servers=3, max_term=2, max_log=0))
    leader = model.properties().sometimes[0]
    steps = shortest_witness(model, leader.reached)
    assert steps is not None and leader.reached(steps[-1][1])
    assert not any(leader.reached(s) for _l, s in steps[:-1])


def test_cli_graph_too_large_when_the_search_stopped(capsys):
    assert main(["graph", *SMALL, "--max-states", "30", "--node-limit", "20"]) == 3
    err = capsys.readouterr().err
    assert "30+ states" in err and "stopped at --max-states 30" in err
    assert "none among these states" in err
