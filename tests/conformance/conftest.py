"""Counts what the conformance tests replayed, for the summary at the end of a run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from raftkit.modelcheck.conformance import validator as conform


@pytest.fixture(autouse=True)
def count_validations(monkeypatch: pytest.MonkeyPatch, run_counts: Any) -> Iterator[None]:
    orig = conform.validate
    totals = run_counts("conformance")

    def validate(*args: Any, **kw: Any) -> conform.Outcome:
        out = orig(*args, **kw)
        totals["traces"] += 1
        totals["events"] += out.events
        totals["seconds"] += out.seconds
        return out

    monkeypatch.setattr(conform, "validate", validate)
    yield
