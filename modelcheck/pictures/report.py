"""An HTML report of a model-checking run, self-contained in one folder.

``write_report(DIR, result, model, parameters)`` writes ``DIR/index.html`` and its pictures in
``DIR/img/``: the summary, coverage per action, the properties and whether each sometimes
property was reached, and on a violation the counterexample step by step, each step with its
cluster diagram, the variables it changed and links to the steps before and after, plus a
message-sequence chart of the whole trace.

Only the cluster diagrams need Graphviz's ``dot`` program. Without it the report is written
with everything else, the sequence chart included (plain SVG made here), and says what is
missing and how to install it: the changes table of each step tells what its diagram would
show, so the report still explains the counterexample. Everything is made in memory first and
written at the end, whole or not at all (:func:`.files.write_files`).

Nothing in the report refers outside DIR: styles are inline, pictures are files beside it and the
SVGs carry no external reference, so the folder can be zipped, mailed or served as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from ..engine.result import Result, Step
from ..engine.trace import ABSENT, diff, format_value
from .dot import missing as missing_dot
from .files import write_files

_CSS = """
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1.5em 4em; color: #0f172a; line-height: 1.4; }
h1 { margin-top: 1em; } h1.ok { color: #15803d; } h1.bad { color: #b91c1c; }
h1.incomplete { color: #b45309; }
nav.top { position: sticky; top: 0; background: #fff; padding: .5em 0;
          border-bottom: 1px solid #e2e8f0; z-index: 1; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #cbd5e1; padding: .2em .6em; text-align: left; vertical-align: top; }
th { background: #f1f5f9; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.no { color: #b91c1c; font-weight: bold; } .yes { color: #15803d; }
code, .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 90%; }
section.step { border-top: 2px solid #e2e8f0; margin-top: 2em; padding-top: .5em; }
section.step.last h3 { color: #b91c1c; }
.steps { display: flex; flex-wrap: wrap; gap: .3em; padding: 0; list-style: none; }
.steps a { display: inline-block; padding: .1em .5em; border: 1px solid #cbd5e1;
           border-radius: 4px; text-decoration: none; }
img { max-width: 100%; height: auto; }
.doc { color: #475569; font-size: 90%; }
.warning { background: #fef3c7; padding: .5em 1em; border-left: 4px solid #d97706; }
"""

# The report checks itself when opened: it marks <body> with whether every picture loaded and
# which resources came from outside its folder. A person never sees it; the browser test reads it.
_SELF_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  var here = location.href.slice(0, location.href.lastIndexOf("/") + 1);
  var outside = performance.getEntriesByType("resource")
    .map(function (e) { return e.name; })
    .filter(function (name) { return name.indexOf(here) !== 0; });
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-images-loaded", loaded ? "all" : "missing");
  document.body.setAttribute("data-outside", outside.join(" "));
});
"""


def _h(text: object) -> str:
    return escape(str(text), quote=True)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{_h(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            cls = ' class="num"' if k in numeric else ""
            cells.append(f"<td{cls}>{cell}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _summary(result: Result, parameters: Mapping[str, Any]) -> str:
    rows = [
        (
            "result",
            _h(result.result) + (f" ({_h(result.stopped_by)})" if result.stopped_by else ""),
        ),
        ("distinct states", f"{result.distinct_states:,}"),
        ("states generated", f"{result.states_generated:,}"),
        ("depth", f"{result.depth:,}"),
        ("seconds", f"{result.seconds:.2f}"),
        ("distinct states per second", f"{result.distinct_per_second:,.0f}"),
        ("largest queue", f"{result.max_queue:,}"),
        ("store", _h(result.store)),
        ("fingerprint collision probability", f"{result.collision_probability:.2g}"),
    ]
    params = [(k, f"<code>{_h(json.dumps(v))}</code>") for k, v in parameters.items()]
    return (
        '<section id="summary"><h2>Summary</h2>'
        + _table(("", "value"), rows, numeric=(1,))
        + "<h3>Parameters</h3>"
        + _table(("parameter", "value"), params)
        + "</section>"
    )


def _coverage(result: Result) -> str:
    rows = []
    for name, cov in result.coverage.items():
        never = ' <span class="no">never enabled</span>' if cov.enabled == 0 else ""
        rows.append((f"<code>{_h(name)}</code>{never}", f"{cov.enabled:,}", f"{cov.distinct:,}"))
    warn = ""
    if result.never_enabled:
        names = ", ".join(result.never_enabled)
        warn = (
            f'<p class="warning">Never enabled: {_h(names)}. The bounds may be too small for '
            "these actions to matter.</p>"
        )
    return (
        '<section id="coverage"><h2>Coverage</h2>'
        "<p>How often each action was enabled, and how many new distinct states it produced.</p>"
        + warn
        + _table(("action", "enabled", "new distinct states"), rows, numeric=(1, 2))
        + "</section>"
    )


def _properties(result: Result, model: Any) -> str:
    props = model.properties()
    violated = result.violation.property if result.violation else None
    rows = []
    for kind, items in (("invariant", props.invariants), ("action", props.action_properties)):
        for p in items:
            if result.result == "incomplete":
                status = "not violated in the states explored"
            elif p.name == violated:
                status = '<span class="no">VIOLATED</span>'
            elif violated:
                status = "not violated before the search stopped"
            else:
                status = '<span class="yes">holds</span>'
            rows.append(
                (
                    f"<code>{_h(p.name)}</code>",
                    kind,
                    status,
                    f'<span class="doc">{_h(p.doc)}</span>',
                )
            )
    docs = {p.name: p.doc for p in (*props.sometimes, *props.sometimes_steps)}
    some = []
    for name, reached in result.sometimes.items():
        status = (
            '<span class="yes">reached</span>' if reached else '<span class="no">not reached</span>'
        )
        some.append(
            (
                f"<code>{_h(name)}</code>",
                status,
                f'<span class="doc">{_h(docs.get(name, ""))}</span>',
            )
        )
    unreached = [n for n, r in result.sometimes.items() if not r]
    warn = ""
    if unreached and result.result == "ok":
        warn = (
            '<p class="warning">Some sometimes-properties were never reached: the bounds are '
            "too small for this run to mean much.</p>"
        )
    return (
        '<section id="properties"><h2>Properties</h2>'
        + _table(("property", "kind", "status", "what it checks"), rows)
        + '<h3 id="sometimes">Sometimes properties</h3>'
        + "<p>States or steps some behaviour must reach; a run that reaches none of them proves "
        "little.</p>" + warn + _table(("property", "status", "what it is"), some) + "</section>"
    )


def _changes_table(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    if before is None:
        rows = [
            (f"<code>{_h(k)}</code>", f'<span class="mono">{_h(format_value(v))}</span>')
            for k, v in after.items()
        ]
        return (
            "<details><summary>every variable</summary>"
            + _table(("variable", "value"), rows)
            + "</details>"
        )
    changes = diff(before, after)
    if not changes:
        return "<p>No variable changed.</p>"
    rows = []
    for name, old, new in changes:
        show_old = "(absent)" if old is ABSENT else format_value(old)
        show_new = "(absent)" if new is ABSENT else format_value(new)
        rows.append(
            (
                f"<code>{_h(name)}</code>",
                f'<span class="mono">{_h(show_old)}</span>',
                f'<span class="mono">{_h(show_new)}</span>',
            )
        )
    return _table(("variable", "before", "after"), rows)


def spec_steps(model: Any, trace: list[Step]) -> list[Step]:
    """The trace with the spec's own states, so it can be drawn and exported.

    A fast model may keep states in a compact form of its own; one that offers
    ``export_state`` (or ``to_spec``) turns them back into spec states.
    """
    to_spec = getattr(model, "export_state", None) or getattr(model, "to_spec", None)
    if to_spec is None:
        return trace
    try:
        from ...spec.state import State
    except ImportError:
        return trace
    if all(isinstance(s, State) for _l, s in trace):
        return trace
    return [(label, to_spec(state)) for label, state in trace]


def _counterexample(result: Result, model: Any, files: dict[str, str]) -> str:
    assert result.violation is not None
    v = result.violation
    original: list[Step] = list(v.trace)
    trace = spec_steps(model, original)
    n = len(trace)
    pictures: list[str] | None = None
    chart = ""
    try:
        from ...spec.state import State

        drawable = all(isinstance(s, State) for _l, s in trace)
    except ImportError:  # a model of another kind: text only
        drawable = False
    no_dot = missing_dot()
    if drawable:
        from .diagrams import sequence_chart_svg, trace_cluster_svgs

        if no_dot is None:
            pictures = []
            for k, svg in enumerate(trace_cluster_svgs(trace, v.property), start=1):
                name = f"img/step-{k:03d}.svg"
                files[name] = svg
                pictures.append(name)
        files["img/sequence.svg"] = sequence_chart_svg(trace, v.property)
        chart = (
            '<h3 id="sequence">Message-sequence chart</h3>'
            "<p>One lane per server, time going down; arrows run from the step that sent a "
            "message to the step that received it.</p>"
            '<img src="img/sequence.svg" alt="message-sequence chart of the counterexample">'
        )
    what = "its last state breaks it" if v.kind == "invariant" else "its last step breaks it"
    index = "".join(f'<li><a href="#step-{k}">{k}</a></li>' for k in range(1, n + 1))
    parts = [
        '<section id="counterexample">',
        f"<h2>Counterexample: {_h(v.property)}</h2>",
        f"<p>A shortest behaviour of {n} states violating the {_h(v.kind)} property "
        f"<code>{_h(v.property)}</code>: {what}. Yellow marks what each step changed; orange "
        "arrows are messages the step sent, grey dashed ones messages it consumed.</p>",
        f'<ul class="steps">{index}</ul>',
        chart,
    ]
    if drawable and no_dot is not None:
        parts.append(
            f'<p class="warning">No cluster diagram for each step: {_h(no_dot)}. The table of '
            "each step says what it changed.</p>"
        )
    previous = None
    for k, (label, state) in enumerate(original, start=1):
        described = dict(model.describe(state))
        action = "Initial state" if label is None else model.format_label(label)
        links = []
        if k > 1:
            links.append(f'<a href="#step-{k - 1}">← step {k - 1}</a>')
        if k < n:
            links.append(f'<a href="#step-{k + 1}">step {k + 1} →</a>')
        links.append('<a href="#counterexample">all steps</a>')
        last = " last" if k == n else ""
        parts.append(f'<section class="step{last}" id="step-{k}">')
        heading = f"Step {k} of {n}: {_h(action)}"
        if k == n:
            heading += f" — violates {_h(v.property)}"
        parts.append(f"<h3>{heading}</h3>")
        parts.append("<nav>" + " ".join(links) + "</nav>")
        if pictures is not None:
            parts.append(f'<img src="{pictures[k - 1]}" alt="cluster diagram after step {k}">')
        parts.append(_changes_table(previous, described))
        parts.append("</section>")
        previous = described
    parts.append("</section>")
    return "\n".join(parts)


#: States a witness search may hold before giving up (each is a whole state in memory).
WITNESS_MAX_STATES = 20_000


def _witnesses(result: Result, model: Any, files: dict[str, str]) -> str:
    """For each sometimes-property reached, a shortest behaviour reaching it, as a chart.

    A clean run says little by itself; seeing how a leader gets elected or an entry committed
    within these bounds shows what the check covered.
    """
    try:
        from ...spec.state import State
    except ImportError:
        return ""
    from ..engine.graph import shortest_witness
    from .diagrams import sequence_chart_svg

    # A fast model keeps states in a form of its own; its reference model has the spec's.
    model = getattr(model, "reference", model)
    props = model.properties()
    found = [(p.name, p.reached, False) for p in props.sometimes]
    found += [(p.name, p.reached, True) for p in props.sometimes_steps]
    parts = []
    for k, (name, reached, on_step) in enumerate(found, start=1):
        if not result.sometimes.get(name):
            continue
        steps = shortest_witness(model, reached, on_step, max_nodes=WITNESS_MAX_STATES)
        anchor = f"witness-{k}"
        parts.append(f'<section id="{anchor}"><h3>How {_h(name)} is reached</h3>')
        if steps is None or not all(isinstance(st, State) for _l, st in steps):
            parts.append(
                f"<p>No picture: no behaviour among the first {WITNESS_MAX_STATES:,} states "
                "reaches it (the checker's search went further).</p></section>"
            )
            continue
        files[f"img/{anchor}.svg"] = sequence_chart_svg(steps)
        actions = "".join(
            f"<li>{_h('Initial state' if lb is None else model.format_label(lb))}</li>"
            for lb, _st in steps
        )
        parts.append(
            f"<p>A shortest behaviour of {len(steps)} states that reaches it.</p>"
            f'<img src="img/{anchor}.svg" alt="how {_h(name)} is reached">'
            f"<details><summary>its actions</summary><ol>{actions}</ol></details></section>"
        )
    if not parts:
        return ""
    return (
        '<section id="witnesses"><h2>How the sometimes-properties are reached</h2>'
        + "\n".join(parts)
        + "</section>"
    )


def write_report(
    directory: str | Path,
    result: Result,
    model: Any,
    parameters: Mapping[str, Any],
    title: str = "raftmc check",
    witnesses: bool = True,
) -> Path:
    """Write the report into ``directory`` (created if needed); the path of its index.html.

    Without a violation and with ``witnesses``, the report also draws, for each sometimes
    property reached, a shortest behaviour reaching it (a search of its own, see
    :data:`WITNESS_MAX_STATES`). Nothing is written until every page and picture is made; a
    write that fails takes back what this call wrote (and raises, naming the file).
    """
    out = Path(directory)
    files: dict[str, str] = {}
    if result.result == "ok":
        headline, cls = "every property holds", "ok"
    elif result.violation is not None:
        headline, cls = f"{result.violation.property} is violated", "bad"
    else:
        headline, cls = f"incomplete: stopped by {result.stopped_by}", "incomplete"
    nav = [
        '<a href="#summary">Summary</a>',
        '<a href="#coverage">Coverage</a>',
        '<a href="#properties">Properties</a>',
        '<a href="#sometimes">Sometimes</a>',
    ]
    extra = ""
    if result.violation is not None:
        nav.append('<a href="#counterexample">Counterexample</a>')
        nav.append('<a href="#sequence">Sequence chart</a>')
        extra = _counterexample(result, model, files)
    elif witnesses:
        extra = _witnesses(result, model, files)
        if extra:
            nav.append('<a href="#witnesses">How they are reached</a>')
    shown = ", ".join(f"{k}={v}" for k, v in parameters.items() if v is not None)
    body = [
        f'<h1 class="{cls}">{_h(title)}: {_h(headline)}</h1>',
        f'<p class="mono">{_h(shown)}</p>',
        '<nav class="top">' + "".join(nav) + "</nav>",
        _summary(result, parameters),
        _coverage(result),
        _properties(result, model),
    ]
    if extra:
        body.append(extra)
    html = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)}: {_h(headline)}</title>"
        f"<style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_SELF_CHECK}</script>\n</body></html>\n"
    )
    files["index.html"] = html
    write_files(out, files)
    return out / "index.html"
