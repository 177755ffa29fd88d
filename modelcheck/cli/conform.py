"""``raftmc conform TRACE...``: validate implementation traces against the spec.

Exit status: 0 the trace conforms, 1 an event the spec cannot explain (with ``--keep-going``:
at least one), 2 malformed input or bad usage (one line naming file, line and field; never a
traceback), 3 stopped by the limit on interpretations, 4 the report could not be written.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from typing import Any

from ..conformance import (
    DEFAULT_MAX_INTERPRETATIONS,
    IMPL_OPTIONS,
    Failure,
    Outcome,
    TooManyInterpretations,
    conform_files,
    failure_text,
)
from ..conformance.rules import Deviation
from ..conformance.traceformat import TraceError
from ..pictures.dot import missing as missing_dot

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_LIMIT = 0, 1, 2, 3


def add_conform_command(commands: Any) -> None:
    """Register ``conform`` on the ``raftmc`` subcommand parser."""
    c = commands.add_parser(
        "conform",
        help="replay implementation traces (JSON Lines) against the spec",
        description=(
            "Replay the merged trace of one run (one file, or one file per node) against the "
            "spec: every event must be explained by a spec step or a short run of unobserved "
            "steps whose state agrees with what the event reports. The format is in "
            "docs/conformance.md."
        ),
        epilog="exit status: 0 conforms, 1 an event the spec cannot explain (with --keep-going: "
        "at least one), 2 malformed input, 3 stopped by --max-interpretations, 4 the report "
        "could not be written",
        allow_abbrev=False,
    )
    c.add_argument("traces", nargs="+", metavar="TRACE", help="JSON Lines trace files")
    c.add_argument("--json", action="store_true", help="print one JSON object (also on errors)")
    c.add_argument(
        "--keep-going",
        action="store_true",
        help="report every deviation (line, rule of Figure 2, class), resynchronising the node "
        "from the state its event reports after each, instead of stopping at the first",
    )
    c.add_argument(
        "--max-interpretations",
        type=int,
        default=DEFAULT_MAX_INTERPRETATIONS,
        metavar="N",
        help="stop if more than N spec states of one node agree with its trace so far "
        f"(default {DEFAULT_MAX_INTERPRETATIONS})",
    )
    c.add_argument(
        "--report",
        metavar="DIR",
        default=None,
        help="on a failure, write DIR/index.html with the spec's state as pictures",
    )
    c.add_argument(
        "--options",
        default=",".join(IMPL_OPTIONS),
        metavar="LIST",
        help=(
            "spec options the implementation uses, comma-separated, from "
            f"{', '.join(IMPL_OPTIONS)}; 'none' for raft.tla alone (default: all)"
        ),
    )
    c.set_defaults(run=run_conform)


def _options(text: str) -> tuple[str, ...]:
    if text.strip() in ("", "none"):
        return ()
    opts = tuple(x.strip() for x in text.split(",") if x.strip())
    for o in opts:
        if o not in IMPL_OPTIONS:
            raise TraceError("--options", 0, None, f"unknown option {o!r} (known: "
                             f"{', '.join(IMPL_OPTIONS)})")  # fmt: skip
    if "snapshots" in opts and "batch" not in opts:
        raise TraceError("--options", 0, None, "snapshots needs batch")
    return opts


def _error(args: argparse.Namespace, message: str, result: str = "error") -> None:
    if args.json:
        print(json.dumps({"result": result, "error": message}))
    else:
        print(f"raftmc conform: {message}", file=sys.stderr)


def run_conform(args: argparse.Namespace) -> int:
    """Run ``raftmc conform``; returns the exit status."""
    if args.report:
        from .paths import directory_problem

        problem = directory_problem("--report", args.report)
        if problem:
            _error(args, problem)
            return EXIT_USAGE
    if args.max_interpretations < 1:
        _error(args, "--max-interpretations must be at least 1")
        return EXIT_USAGE
    try:
        outcome = conform_files(
            args.traces, _options(args.options), args.keep_going, args.max_interpretations
        )
    except TraceError as exc:
        _error(args, str(exc))
        return EXIT_USAGE
    except TooManyInterpretations as exc:
        _error(args, f"stopped: {exc}", "stopped")
        return EXIT_LIMIT
    # The verdict is printed before the report is written, so that a failed write loses nothing.
    if args.json:
        print(json.dumps(outcome.to_json()))
    elif args.keep_going:
        print(deviations_text(outcome))
    else:
        if outcome.failure is None:
            print(outcome.summary())
        else:
            print(failure_text(outcome.failure))
            print(f"  rule broken: {outcome.failure.rule} ({outcome.failure.cls})")
            print(
                f"({outcome.events - 1} events before it conformed, "
                f"{outcome.spec_steps} spec steps)"
            )
    if args.report and outcome.failure is not None:
        if not args.json:
            print(f"report: {os.path.join(args.report, 'index.html')}")
            no_dot = missing_dot()
            if no_dot:
                print(f"report: no pictures: {no_dot}")
        sys.stdout.flush()
        write_report(args.report, outcome)
    return EXIT_OK if outcome.ok else EXIT_VIOLATION


def deviations_text(outcome: Outcome) -> str:
    """Every deviation, one line each, then a table of deviations by rule."""
    devs = outcome.deviations
    rate = outcome.events / outcome.seconds if outcome.seconds > 0 else float("inf")
    out = [
        f"{outcome.events} events, {outcome.spec_steps} spec steps ({outcome.seconds:.2f} s, "
        f"{rate:,.0f} events/s): "
        + (f"{len(devs)} deviation(s)" if devs else "conforms, no deviation")
    ]
    for d in devs:
        out.append(f"event {d.number} ({d.path}:{d.line}) [{d.cls}] {d.rule}")
        out.append(f"    {d.event}: {d.reason}")
    if devs:
        out.append("")
        out.append(_table(devs))
    return "\n".join(out)


def _table(devs: list[Deviation]) -> str:
    by_rule: dict[tuple[str, str], list[Deviation]] = {}
    for d in devs:
        by_rule.setdefault((d.rule, d.cls), []).append(d)
    rows = [("count", "class", "rule", "first at")]
    for (rule, cls), ds in sorted(by_rule.items(), key=lambda kv: (kv[0][1], -len(kv[1]))):
        rows.append((str(len(ds)), cls, rule, f"{ds[0].path}:{ds[0].line}"))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = ["deviations by rule:"]
    for n, r in enumerate(rows):
        lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _picture_state(f: Failure, state: Any) -> Any:
    """The spec state as the pictures draw it: a snapshot's entries are shown as one cell."""
    servers = tuple(s._replace(log=s.log[s.snapshotIndex :]) for s in state.servers)
    messages = tuple((m, c) for m, c in state.messages if m.mtype <= 3)
    return state._replace(servers=servers, messages=messages)


def write_report(directory: str, outcome: Outcome) -> str:
    """An HTML page: the failure text and pictures of the spec's cluster before the event and
    after the closest run of spec steps. Pictures need Graphviz; without it, text only."""
    f = outcome.failure
    assert f is not None
    os.makedirs(directory, exist_ok=True)
    pictures = []
    try:
        no_dot = missing_dot()
        if no_dot:
            raise RuntimeError(f"no pictures: {no_dot}")
        from ..pictures.diagrams import cluster_svg

        before = _picture_state(f, f.state_before)
        pictures.append(("The spec's cluster before the event", cluster_svg(before)))
        if f.state_closest is not None:
            closest = _picture_state(f, f.state_closest)
            pictures.append(
                (
                    "After the closest run of spec steps: " + ", ".join(f.closest),
                    cluster_svg(closest, before),
                )
            )
    except Exception as exc:  # Graphviz missing or failing: the text still helps.
        text = str(exc) if str(exc).startswith("no pictures") else f"no pictures: {exc}"
        pictures.append((f"({text})", ""))
    body = [
        "<h1>raftmc conform: first event the spec cannot explain</h1>",
        f"<pre>{html.escape(failure_text(f))}</pre>",
        f"<h2>The trace line ({html.escape(f.event.where)})</h2>",
        f"<pre>{html.escape(f.event.raw)}</pre>",
    ]
    for title, svg in pictures:
        body.append(f"<h2>{html.escape(title)}</h2>{svg}")
    page = (
        "<!doctype html><meta charset='utf-8'><title>raftmc conform</title>"
        "<style>body{font-family:sans-serif;margin:2em} pre{background:#f1f5f9;padding:1em;"
        "white-space:pre-wrap}</style>" + "".join(body)
    )
    path = os.path.join(directory, "index.html")
    with open(path, "w", encoding="utf-8") as out:
        out.write(page)
    return path
