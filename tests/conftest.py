"""Summary lines that tests in several directories count towards, printed once at the end of
a run. The counts are kept on the run's config; under pytest-xdist each worker sends its own
to the controller, which adds them up, so the lines read the same with or without ``-n``."""

from __future__ import annotations

from typing import Any

import pytest

_COUNTS = pytest.StashKey[dict[str, dict[str, float]]]()
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
    """``run_counts(group)`` is a dict of counters for ``group``'s summary line: add to it."""

    def group_counts(group: str) -> dict[str, float]:
        return pytestconfig.stash.setdefault(_COUNTS, {}).setdefault(group, {})

    return group_counts


def _merge(into: dict[str, dict[str, float]], more: dict[str, dict[str, float]]) -> None:
    for group, values in more.items():
        mine = into.setdefault(group, {})
        for name, value in values.items():
            mine[name] = mine.get(name, 0) + value


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_WORKER_KEY] = session.config.stash.get(_COUNTS, {})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    sent = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if sent:
        _merge(node.config.stash.setdefault(_COUNTS, {}), sent)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    found = terminalreporter.config.stash.get(_COUNTS, {})
    for group, (needed, line) in _LINES.items():
        values = found.get(group, {})
        if values.get(needed):
            terminalreporter.write_line(line.format_map(_Zero(values)))


class _Zero(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> float:
        return 0
