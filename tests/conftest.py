"""Summary lines that tests in several directories count towards, printed once at the end of
a run. The counts are kept on the run's config; under pytest-xdist each worker sends its own
to the controller, which adds them up, so the lines read the same with or without ``-n``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

_COUNTS = pytest.StashKey[dict[str, Counter[str]]]()
_WORKER_KEY = "raftkit_counts"

# Per counter group: the count that must be non-zero for its line to be printed, and the line.
_LINES = {
    "sim_traces": (
        "validated",
        "conformance: {validated:.0f} of {count:.0f} simulation traces replayed against the "
        "spec ({events:.0f} events)",
    ),
    "conformance": (
        "traces",
        "conformance tests: {traces:.0f} traces replayed against the spec, {events:.0f} events "
        "in {seconds:.1f} s of validation",
    ),
}


@pytest.fixture(scope="session")
def run_counts(pytestconfig: pytest.Config) -> Any:
    """``run_counts(group)`` is the Counter of ``group``'s summary line: add to it."""

    def group_counts(group: str) -> Counter[str]:
        return pytestconfig.stash.setdefault(_COUNTS, {}).setdefault(group, Counter())

    return group_counts


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # Plain dicts: what xdist's channel can carry.
        found = session.config.stash.get(_COUNTS, {})
        workeroutput[_WORKER_KEY] = {group: dict(c) for group, c in found.items()}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    sent = getattr(node, "workeroutput", {}).get(_WORKER_KEY, {})
    found = node.config.stash.setdefault(_COUNTS, {})
    for group, values in sent.items():
        found.setdefault(group, Counter()).update(values)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    found = terminalreporter.config.stash.get(_COUNTS, {})
    for group, (needed, line) in _LINES.items():
        values = found.get(group, Counter())
        if values[needed]:
            terminalreporter.write_line(line.format_map(values))
