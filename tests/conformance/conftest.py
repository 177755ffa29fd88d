"""Counts what the conformance tests replayed, for the summary at the end of a run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from raftkit.modelcheck import conform

_count = {"traces": 0, "events": 0, "seconds": 0.0}


@pytest.fixture(autouse=True)
def count_validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    orig = conform.validate

    def validate(*args: Any, **kw: Any) -> conform.Outcome:
        out = orig(*args, **kw)
        _count["traces"] += 1
        _count["events"] += out.events
        _count["seconds"] += out.seconds
        return out

    monkeypatch.setattr(conform, "validate", validate)
    yield


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _count["traces"]:
        terminalreporter.write_line(
            f"conformance tests: {_count['traces']} traces replayed against the spec, "
            f"{_count['events']} events in {_count['seconds']:.1f} s of validation"
        )
