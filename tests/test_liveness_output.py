"""What a liveness violation looks like: text with the cycle marked, JSON, ITF with a loop, and
the figures of the check in the summary; safety output stays as it was."""

import json
from pathlib import Path

import jsonschema
from raftkit.modelcheck.cli.summary import (
    print_counterexample,
    print_summary,
    result_to_json,
    verdict,
)
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.liveness import check_liveness
from raftkit.modelcheck.pictures.itf import trace_to_itf, write_itf
from rich.console import Console
from test_liveness_semantics import SF, WF, counter, detour

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def run(model):
    result = check(model)
    result.add_liveness(check_liveness(model))
    return result


def render(fn, *args):
    console = Console(record=True, width=120, color_system=None)
    fn(*args, console)
    return console.export_text()


def test_text_shows_prefix_then_the_cycle_marked_as_repeating_and_why_it_is_fair():
    model = detour(WF("A"), WF("B", "C"))
    text = render(print_counterexample, run(model), model)
    lines = text.splitlines()
    assert lines[0].startswith("Liveness property ReachTwo is violated")
    marker = lines.index("-- steps 2 to 3 repeat forever (state 3 is state 1) --")
    assert lines[marker + 1] == "2. B(0)" and lines[marker + 3] == "3. C(0)"
    assert "1. Initial state   <- from here on the property's goal never holds" in lines
    assert "     WF(A): possible in 1 of its 2 states, never taken" in lines
    assert "     WF(B|C): possible in every state of the cycle, taken at steps 2, 3" in lines


def test_text_of_a_behaviour_that_stops():
    model = detour(SF("A"))
    lines = render(print_counterexample, run(model), model).splitlines()
    assert "2. B(0)" in lines
    stop = "-- state 2 repeats forever: the behaviour stops there (stutters), which no fairness"
    assert any(line.startswith(stop) for line in lines)
    assert "     SF(A): never possible in the cycle, never taken" in lines
    assert verdict(run(model)) == (
        "liveness property ReachTwo is violated (2 states, the last one repeated forever)"
    )


def test_verdict_of_a_cycle():
    assert verdict(run(detour(WF("A"), WF("B", "C")))) == (
        "liveness property ReachTwo is violated (1 state, then a cycle of 2 steps repeated forever)"
    )


def test_json_has_kind_prefix_and_cycle():
    model = detour(WF("A"), WF("B", "C"))
    out = json.loads(json.dumps(result_to_json(run(model), model)))
    assert out["result"] == "violation"
    v = out["violation"]
    assert (v["property"], v["kind"], v["trigger"]) == ("ReachTwo", "liveness", 0)
    assert v["prefix"] == [{"action": None, "state": {"x": 0}}]
    assert v["cycle"] == [
        {"action": "B(0)", "state": {"x": 1}},
        {"action": "C(0)", "state": {"x": 0}},
    ]
    assert v["fairness"][0] == {
        "fairness": "WF(A)", "kind": "weak", "enabled": 1, "states": 2, "taken": [], "beyond": 0
    }
    live = out["liveness"]
    assert live["properties"] == {
        "ReachTwo": {"holds": False, "fairness": ["WF(A)", "WF(B|C)"], "beyond_bounds": False}
    }
    assert (live["states"], live["edges"], live["edge_bytes"]) == (3, 3, 24)
    for key in ("graph_seconds", "analysis_seconds", "edges_on_disk", "stuttering_steps"):
        assert key in live


def test_summary_reports_the_check_and_warns_about_the_bounds():
    text = " ".join(render(print_summary, run(counter(3, 5))).split())
    assert "Liveness" in text and "steps stored" in text and "steps beyond the bounds" in text
    assert "yes (within the bounds)" in text
    assert "warning: ReachGoal holds only because steps beyond the bounds" in text
    assert "and every temporal property in every fair behaviour" in text


def test_a_lasso_cut_by_the_bounds_says_so():
    model = counter(3, 5)
    result = check(model)
    result.add_liveness(check_liveness(model, beyond_bounds_enables=False))
    note = result.violation.fairness[0]
    assert (note.fairness, note.enabled, note.beyond, note.met) == ("WF(Inc)", 0, 1, True)
    text = " ".join(render(print_counterexample, result, model).split())
    assert (
        "WF(Inc): never possible in the cycle, never taken; possible beyond the bounds in 1 of "
        "the states, so this behaviour is fair only within the bounds"
    ) in text


def test_safety_output_is_unchanged_without_temporal_properties():
    model = detour()
    model.props = type(model.props)()
    result = check(model)
    out = result_to_json(result, model)
    assert "liveness" not in out
    text = render(print_summary, result)
    assert "Liveness" not in text
    assert text.rstrip().endswith(
        "no violation: every invariant and action property holds in every reachable state"
    )


def test_itf_writes_the_cycle_once_with_a_loop_index(tmp_path):
    schema = json.loads((SCHEMAS / "itf.schema.json").read_text())
    model = detour(WF("A"), WF("B", "C"))
    v = run(model).violation
    path = write_itf(
        tmp_path / "lasso.itf.json",
        v.trace,
        format_label=model.format_label,
        describe=model.describe,
        loop=v.loop,
    )
    data = json.loads(path.read_text())
    jsonschema.validate(data, schema)
    # States 0, 1 and then state 0 again: written as [0, 1] with the loop back to index 0.
    assert [s["x"] for s in data["states"]] == [0, 1] and data["loop"] == 0
    assert data["#meta"]["loopAction"] == "C(0)"
    stops = run(detour(SF("A"))).violation
    data = trace_to_itf(stops.trace, describe=model.describe, loop=stops.loop)
    jsonschema.validate(data, schema)
    assert [s["x"] for s in data["states"]] == [0, 1] and data["loop"] == 1
    assert data["#meta"]["loopAction"] == "stuttering"
    plain = trace_to_itf(stops.trace, describe=model.describe)
    assert "loop" not in plain and "loopAction" not in plain["#meta"]
