"""raftmc conform on a 100k-event trace of our own raftkv: events per second.

    .venv/bin/python benchmarks/conform_speed.py [--steps 3200] [--runs 2]

Writes a trace with `raftkv simulate --nodes 5 --seed 1 --steps N --trace` (3200 steps give
102,493 events), then validates it RUNS times and prints the seconds of reading and of
validation, and the events per second of validation. The goal is the whole trace in under
60 s on a 2-core machine; figures taken while other work runs on the machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from raftkit.modelcheck.conformance import validate
from raftkit.modelcheck.conformance.traceformat import read_traces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3200)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.jsonl")
        cmd = [sys.executable, "-m", "raftkit.impl.cli", "simulate", "--nodes", "5", "--seed",
               "1", "--steps", str(args.steps), "--trace", path]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        for run in range(1, args.runs + 1):
            t0 = time.perf_counter()
            events = read_traces([path])
            read = time.perf_counter() - t0
            out = validate(events)
            verdict = "conforms" if out.ok else "VIOLATION"
            print(f"run {run}: {out.events:,} events, {verdict}: read {read:.1f} s, validate "
                  f"{out.seconds:.1f} s ({out.events / out.seconds:,.0f} events/s), total "
                  f"{read + out.seconds:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
