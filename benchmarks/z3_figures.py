"""The Z3 figures of docs/z3-proofs.md, in one run: Z3's per-state overhead in
``raftmc check --z3``, the inductive proofs with their shipped lemmas (over bit-vectors and over
integers), the lemma search BMC starts with, and BMC depth reached per minute on the default
bounds.

    .venv/bin/python benchmarks/z3_figures.py [--quick] [--bmc-seconds S]

Prints one JSON object. ``--quick`` leaves out StateMachineSafety's proofs (about a minute
each) and the overhead run (tens of seconds). Seconds depend on the machine and its load;
docs/z3-proofs.md keeps the measured figures with their dates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from time import perf_counter
from typing import Any

from raftkit.modelcheck.symbolic.bmc import bmc
from raftkit.modelcheck.symbolic.houdini import inductive_subset
from raftkit.modelcheck.symbolic.lemmas import DEFAULT_LEMMAS
from raftkit.modelcheck.symbolic.prove import prove
from raftkit.spec.params import Params


def overhead() -> dict[str, Any]:
    """``raftmc check --z3`` at 3 servers, max term 2, max log 1: its own summary of the cost."""
    cmd = [sys.executable, "-m", "raftkit.modelcheck.cli", "check", "--z3", "--max-term", "2",
           "--max-log", "1", "--json"]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return {"distinct_states": out["distinct_states"], "seconds": out["seconds"], **out["z3"]}


def proofs(names: list[str]) -> list[dict[str, Any]]:
    """Each invariant with its shipped lemmas at the default bounds, both ways."""
    rows = []
    for name in names:
        for bitvec in (True, False):
            r = prove(Params(), name, DEFAULT_LEMMAS[name], bitvec=bitvec)
            rows.append({
                "invariant": name,
                "lemmas": len(r.lemmas),
                "solver": "bit-vectors" if bitvec else "integers",
                "result": r.result,
                "seconds": round(r.seconds, 2),
            })
    return rows


def lemma_search() -> dict[str, Any]:
    """The Houdini run BMC starts with, on the default bounds."""
    r = inductive_subset(Params())
    return {"kept": len(r.kept), "rounds": r.rounds, "seconds": round(r.seconds, 2)}


def bmc_per_minute(seconds: float) -> dict[str, Any]:
    """How deep BMC gets on the default bounds in ``seconds`` (lemma search included)."""
    done: list[tuple[int, float]] = []
    start = perf_counter()
    r = bmc(Params(), 40, max_seconds=seconds, progress=lambda d, s: done.append((d, s)))
    return {
        "budget_seconds": seconds,
        "depth_answered": r.depth,
        "result": r.result,
        "elapsed_at_depth": {d: round(s, 1) for d, s in done if d >= 10},
        "wall_seconds": round(perf_counter() - start, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the slowest parts")
    ap.add_argument("--bmc-seconds", type=float, default=60.0, metavar="S",
                    help="BMC's time budget (default: 60)")
    args = ap.parse_args()
    if args.bmc_seconds <= 0:
        ap.error(f"--bmc-seconds must be positive (got {args.bmc_seconds:g})")
    invariants = ["ElectionSafety", "LogMatching"]
    if not args.quick:
        invariants.append("StateMachineSafety")
    out: dict[str, Any] = {}
    if not args.quick:
        out["check_z3"] = overhead()
    out["prove"] = proofs(invariants)
    out["houdini"] = lemma_search()
    out["bmc"] = bmc_per_minute(args.bmc_seconds)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
