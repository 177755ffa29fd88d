"""The cached loop in C against the generated Python loop, on the same searches, in one run.

    .venv/bin/python benchmarks/c_loop.py [--configs B,D,E] [--symmetry both] [--history both]
                                          [--repeat 2]

For each configuration of ``raftmc bench`` (3 servers), symmetry and history, the search runs
``--repeat`` times with each loop, alternated (C, Python, C, Python, ...), each run in a fresh
process, so that a slower spell of the machine hits both. Prints the counts (which must be
equal) and the CPU seconds of the search alone (the model built before, ``time.process_time``
around ``check``): on a shared machine the steadier figure; the wall seconds beside them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

from raftkit.modelcheck.benchmark.runs import CONFIGS

_RUN = """
import json, sys, time
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check
from raftkit.spec.params import Params
bounds, symmetry, history, native = json.loads(sys.argv[1])
m = FastRaftModel(Params(servers=3, history=history, **bounds), symmetry, native=native)
assert m.compiled.native == native
c0, w0 = time.process_time(), time.perf_counter()
r = check(m)
c1, w1 = time.process_time(), time.perf_counter()
print(json.dumps([[r.result, r.distinct_states, r.states_generated, r.depth], c1 - c0, w1 - w0]))
"""


def _one(bounds: dict[str, Any], symmetry: bool, history: bool, native: bool) -> list[Any]:
    out = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps([bounds, symmetry, history, native])],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def _choices(v: str) -> list[bool]:
    return {"both": [False, True], "on": [True], "off": [False]}[v]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="B,D,E")
    ap.add_argument("--symmetry", choices=["both", "on", "off"], default="both")
    ap.add_argument("--history", choices=["both", "on", "off"], default="both")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print("| cfg | sym | history | distinct | generated | C cpu s | Python cpu s | C / Python"
          " cpu | C wall s | Python wall s | counts |")
    print("| --- " * 11 + "|")
    mismatch = False
    for name in args.configs.split(","):
        bounds = CONFIGS[name]["bounds"]
        for history in _choices(args.history):
            for symmetry in _choices(args.symmetry):
                runs: dict[bool, list[list[Any]]] = {True: [], False: []}
                for _ in range(args.repeat):
                    for native in (True, False):
                        runs[native].append(_one(bounds, symmetry, history, native))
                counts = {json.dumps(r[0]) for rs in runs.values() for r in rs}
                mismatch |= len(counts) > 1
                c = statistics.median(r[1] for r in runs[True])
                py = statistics.median(r[1] for r in runs[False])
                cw = statistics.median(r[2] for r in runs[True])
                pw = statistics.median(r[2] for r in runs[False])
                first = runs[True][0][0]
                print(f"| {name} | {'on' if symmetry else 'off'} | {'on' if history else 'off'}"
                      f" | {first[1]:,} | {first[2]:,} | {c:.2f} | {py:.2f} | {c / py:.2f}"
                      f" | {cw:.1f} | {pw:.1f} | {'equal' if len(counts) == 1 else 'DIFFER'} |",
                      flush=True)
    return 1 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
