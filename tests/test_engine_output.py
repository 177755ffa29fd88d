"""The summary, counterexample and JSON a run produces, on toy models."""

import json

from raftkit.modelcheck.cli.summary import print_counterexample, print_summary, result_to_json
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import ABSENT, diff, trace_lines, trace_to_json
from rich.console import Console
from toy_models import Toy, dials, props


def render(fn, *args):
    console = Console(record=True, width=120, color_system=None)
    fn(*args, console)
    return console.export_text()


def test_summary_shows_counts_coverage_and_warnings():
    model = dials(2, 3, sometimes={"AIs3": lambda s: s[0] == 3})
    text = render(print_summary, check(model))
    assert "distinct states" in text and "12" in text
    assert "states generated" in text and "25" in text
    assert "fingerprint collision" in text
    assert "warning: never enabled: Never" in text
    assert "AIs3" in text and "NOT reached" in text
    assert "too small to mean much" in text
    assert "no violation" in text


def test_summary_without_warnings_when_all_is_well():
    model = Toy(
        inits=[0],
        step=lambda n: [(("Inc",), n + 1)] if n < 3 else [],
        names=["Inc"],
        props=props(sometimes={"Three": lambda n: n == 3}),
    )
    text = render(print_summary, check(model))
    assert "warning" not in text


def test_counterexample_shows_initial_state_and_only_changes():
    model = dials(2, 3, invariants={"NotCorner": lambda s: s != (2, 3)})
    result = check(model)
    text = render(print_counterexample, result, model)
    assert "Invariant NotCorner is violated" in text
    assert "1. Initial state" in text
    assert "x[0]=0  x[1]=0" in text
    assert "6. IncB()" in text or "6. IncA()" in text
    # Each step changes one dial, so each numbered step lists exactly one variable.
    lines = trace_lines(model, result.violation.trace)
    steps = [i for i, line in enumerate(lines) if line[0].isdigit()]
    assert len(steps) == 6
    for a, b in zip(steps[1:], steps[2:] + [len(lines)], strict=True):
        assert b - a == 2


def test_list_values_show_what_came_and_went():
    model = Toy(
        inits=[()],
        step=lambda s: [(("Add", len(s)), s + (len(s),))] if len(s) < 2 else [],
        props=props(invariants={"Short": lambda s: len(s) < 2}),
    )
    model.describe = lambda s: {"bag": list(s)}
    trace = check(model).violation.trace
    lines = trace_lines(model, trace)
    assert "       + 1" in lines


def test_diff_marks_absent_variables():
    assert diff({"a": 1, "b": None}, {"a": 2, "c": 3}) == [
        ("a", 1, 2),
        ("c", ABSENT, 3),
        ("b", None, ABSENT),
    ]


def test_json_has_the_documented_keys_and_trace():
    model = dials(2, 3, invariants={"NotCorner": lambda s: s != (2, 3)})
    result = check(model)
    out = json.loads(json.dumps(result_to_json(result, model, {"top_a": 2})))
    for key in (
        "result",
        "distinct_states",
        "states_generated",
        "depth",
        "seconds",
        "coverage",
        "sometimes",
        "collision_probability",
        "parameters",
        "violation",
    ):
        assert key in out
    assert out["result"] == "violation"
    assert out["parameters"] == {"top_a": 2}
    assert out["coverage"]["IncA"] == {"enabled": result.coverage["IncA"].enabled, "distinct": 2}
    v = out["violation"]
    assert (v["property"], v["kind"]) == ("NotCorner", "invariant")
    assert v["trace"][0] == {"action": None, "state": {"x[0]": 0, "x[1]": 0}}
    assert v["trace"][-1]["state"] == {"x[0]": 2, "x[1]": 3}
    assert v["trace"] == trace_to_json(model, result.violation.trace)


def test_json_without_violation_has_no_violation_key():
    out = result_to_json(check(dials(1, 1)))
    assert out["result"] == "ok"
    assert "violation" not in out
