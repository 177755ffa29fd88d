"""Shared helpers: run the simulated cluster with a trace, validate it."""

from __future__ import annotations

from typing import Any

from raftkit.impl.testing.sim import SimConfig, Simulation
from raftkit.impl.trace import TraceRecorder
from raftkit.modelcheck.cli import main as raftmc
from raftkit.modelcheck.conformance import Outcome, conform_lines

# The simulation profiles of tests/impl_core/test_sim.py, faults included.
PROFILES = {
    "3-nodes": SimConfig(),
    "5-nodes": SimConfig(nodes=5, ticks=250),
    "no-prevote": SimConfig(pre_vote=False, check_quorum=False),
    "lossy-slow": SimConfig(drop_rate=0.15, max_delay=8, duplicate_rate=0.1, election_tick=20),
    "crashy": SimConfig(crash_rate=0.02, partition_rate=0.03, snapshot_every=8),
}


def sim_trace(cfg: SimConfig, seed: int) -> list[str]:
    """The JSON lines of one seeded run (the run's own safety checks must pass)."""
    rec = TraceRecorder()
    Simulation(cfg, seed, rec).run()
    return rec.lines


def validate_lines(lines: list[str], name: str = "(trace)") -> Outcome:
    return conform_lines(lines, name)


def malformed(tmp_path: Any, lines: list[str], capsys: Any) -> str:
    """``raftmc conform`` on these lines (as bad.jsonl) refuses them as malformed: exit status
    2, one line on stderr, no traceback. Returns that line."""
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    assert raftmc(["conform", str(p)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    return err
