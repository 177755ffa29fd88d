"""``raftkv nemesis`` as a user runs it: one minute of a real 3-node cluster under kills, pauses
and partitions, judged at the end. It is the longest test of the default suite (about 80 s, in
its own file so that it runs beside the others); docs/raftkv.md has a 30-minute run."""

from __future__ import annotations

import json
import subprocess
import sys


def test_one_minute_nemesis_run_is_linearizable_and_loses_no_acknowledged_write(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.impl.cli", "nemesis", "--minutes", "1", "--seed", "1",
         "--json", "--dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    figures = json.loads(proc.stdout)
    assert proc.returncode == 0, figures
    assert figures["linearizability"] == "linearizable"
    assert figures["lost_writes"] == 0 and figures["replicas_agree"]
    assert figures["node_log_tracebacks"] == 0
    # The run did what it says: faults of every kind, elections, and real work between them.
    assert all(n >= 1 for n in figures["faults"].values()), figures["faults"]
    assert figures["elections"]["terms_begun"] >= 1
    assert figures["operations"]["ok"] >= 500 and figures["acknowledged_unique_writes"] >= 50
    assert figures["latency_ms"]["p99"] > 0
