#!/usr/bin/env python3
"""Regenerate the pictures of docs/pictures.md (docs/img/) with the raftmc command line.

Every picture in the docs is made here by the tool itself, never drawn by hand:

    .venv/bin/python scripts/make_doc_pictures.py        # a few minutes; needs dot

It runs `raftmc graph` for the state-graph pictures and `raftmc check --report` for the
counterexample pictures, then copies the report's step diagrams and sequence chart it shows.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"

GRAPHS = {
    "graph-around.svg": ["--max-term", "2", "--max-log", "0", "--around", "0", "--radius", "4"],
    "graph-quotient.svg": ["--max-term", "2", "--max-log", "0", "--quotient", "roles+terms"],
    "graph-counterexample.svg": ["--mutant", "forget-vote-on-restart", "--counterexample-only"],
}

# The counterexample shown step by step: a vote granted without the log check elects a leader
# that lacks a committed entry. Its steps show elections, replication, commits and the loss.
MUTANT = "vote-without-log-check"


def raftmc(*args: str) -> subprocess.CompletedProcess[str]:
    """Run raftmc from this checkout's environment."""
    cmd = [sys.executable, "-m", "raftkit.modelcheck.cli", *args]
    print("+ raftmc " + " ".join(args), file=sys.stderr)
    return subprocess.run(cmd, text=True, capture_output=True)


def main() -> int:
    IMG.mkdir(parents=True, exist_ok=True)
    for name, args in GRAPHS.items():
        done = raftmc("graph", *args, "-o", str(IMG / name))
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return 1
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        done = raftmc("check", "--mutant", MUTANT, "--json", "--report", str(report))
        if done.returncode != 1:  # 1: the violation the mutant is known for
            sys.stderr.write(done.stderr)
            return 1
        steps = sorted((report / "img").glob("step-*.svg"))
        for old in IMG.glob("cex-step-*.svg"):
            old.unlink()
        for step in steps:
            shutil.copy(step, IMG / f"cex-{step.name}")
        shutil.copy(report / "img" / "sequence.svg", IMG / "cex-sequence.svg")
    print(f"wrote {len(list(IMG.glob('*.svg')))} pictures to {IMG.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
