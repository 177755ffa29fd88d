"""Every simulated-cluster run in these tests records its conformance trace (issue 7), and a
sample of them is replayed against the spec: the impl -> spec direction rides along with every
simulation test. RAFTKIT_CONFORM_EVERY=1 validates every run; 0 turns validation off."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from raftkit.impl.testing.sim import Simulation
from raftkit.impl.trace import TraceRecorder
from raftkit.modelcheck.conformance import conform_lines, failure_text

EVERY = int(os.environ.get("RAFTKIT_CONFORM_EVERY", "10"))


@pytest.fixture(autouse=True)
def conformance_traces(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: Any, run_counts: Any
) -> Iterator[None]:
    runs = run_counts("sim_traces")
    orig_init, orig_run = Simulation.__init__, Simulation.run

    def init(self: Simulation, config: Any = None, seed: int = 0, observer: Any = None) -> None:
        rec = TraceRecorder()

        def both(ev: Any) -> None:
            rec(ev)
            if observer is not None:
                observer(ev)

        orig_init(self, config, seed, both)
        self._trace_recorder = rec  # type: ignore[attr-defined]

    def run(self: Simulation) -> Any:
        result = orig_run(self)
        runs["count"] += 1
        # Lazy persistence breaks the caller's contract on purpose; the spec assumes it is kept.
        due = EVERY and runs["count"] % EVERY == 0 and not self.cfg.lazy_persist
        if due:
            rec = self._trace_recorder  # type: ignore[attr-defined]
            outcome = conform_lines(rec.lines, f"seed-{self.seed}")
            runs["validated"] += 1
            runs["events"] += outcome.events
            if not outcome.ok:
                path = tmp_path_factory.mktemp("traces") / f"seed-{self.seed}.jsonl"
                rec.write(str(path))
                assert outcome.failure is not None
                pytest.fail(f"trace of seed {self.seed} ({path}):\n{failure_text(outcome.failure)}")
        return result

    monkeypatch.setattr(Simulation, "__init__", init)
    monkeypatch.setattr(Simulation, "run", run)
    yield
