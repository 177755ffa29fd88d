"""``raftmc conform TRACE...``: validate implementation traces against the spec.

Exit status: 0 the trace conforms, 1 an event the spec cannot explain, 2 malformed input or bad
usage (one line naming file, line and field; never a traceback).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from typing import Any

from ..conform import IMPL_OPTIONS, Failure, Outcome, conform_files, failure_text
from ..tracefmt import TraceError

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2


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
        epilog="exit status: 0 conforms, 1 an event the spec cannot explain, 2 malformed input, "
        "4 the report could not be written",
        allow_abbrev=False,
    )
    c.add_argument("traces", nargs="+", metavar="TRACE", help="JSON Lines trace files")
    c.add_argument("--json", action="store_true", help="print one JSON object")
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


def run_conform(args: argparse.Namespace) -> int:
    """Run ``raftmc conform``; returns the exit status."""
    if args.report:
        from .paths import directory_problem

        problem = directory_problem("--report", args.report)
        if problem:
            print(f"raftmc conform: {problem}", file=sys.stderr)
            return EXIT_USAGE
    try:
        outcome = conform_files(args.traces, _options(args.options))
    except TraceError as exc:
        print(f"raftmc conform: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # The verdict is printed before the report is written, so that a failed write loses nothing.
    if args.json:
        print(json.dumps(outcome.to_json()))
    else:
        if outcome.failure is None:
            print(outcome.summary())
        else:
            print(failure_text(outcome.failure))
            print(
                f"({outcome.events - 1} events before it conformed, "
                f"{outcome.spec_steps} spec steps)"
            )
            if args.report:
                print(f"report: {os.path.join(args.report, 'index.html')}")
    if args.report and outcome.failure is not None:
        sys.stdout.flush()
        write_report(args.report, outcome)
    return EXIT_OK if outcome.ok else EXIT_VIOLATION


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
        pictures.append((f"(no pictures: {exc})", ""))
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
