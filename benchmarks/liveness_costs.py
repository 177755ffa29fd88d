"""What the liveness check costs beside the safety-only search, on Raft, measured in one run.

    .venv/bin/python benchmarks/liveness_costs.py [--bounds small|medium|default]
        [--properties spec|eventual-leader] [--store fingerprint]

Both runs explore the same model, the compiled Raft that ``raftmc check`` uses: the safety
search as ``raftmc check`` runs it (the engine's batch path), and
:func:`raftkit.modelcheck.engine.liveness.check_liveness` through the model's plain protocol.
``--properties spec`` (the default) checks the spec's own temporal properties
(``spec/liveness.py``) under their per-instance fairness, as ``raftmc check --liveness on``
does: the graph is the quotient under symmetry, its loops judged on its cover
(``engine/liveness/cover.py``). ``eventual-leader`` checks ``<>LeaderElected`` under weak
fairness of every action as a whole instead, which needs no cover (its verdict is beside the
point: the costs are what is measured). Each run is in its
own process, so its peak resident memory is its own.

Prints, for each: seconds, distinct states, steps (generated; for liveness also stored, beyond
the bounds, stuttering), bytes of stored steps, and peak RSS; then the ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from dataclasses import replace
from typing import Any

from raftkit.modelcheck.compiled.model import FastRaftModel
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.liveness import check_liveness
from raftkit.modelcheck.engine.model import Eventually, Fairness
from raftkit.spec.next import action_names
from raftkit.spec.params import Params
from raftkit.spec.properties import leader_elected

BOUNDS = {
    "small": Params(servers=3, values=1, max_term=2, max_log=0, max_dup=1, max_inflight=1),
    "medium": Params(servers=3, values=1, max_term=2, max_log=1, max_dup=1, max_inflight=1),
    "default": Params(),
}


class WithEventualLeader(FastRaftModel):
    """The spec with one temporal property, for measuring only."""

    def properties(self) -> Any:
        props = super().properties()
        fair = tuple(Fairness("weak", (name,)) for name in action_names(self.params))
        spec = self.export_state
        return replace(
            props,
            eventually=(Eventually("EventuallyLeader", lambda s: leader_elected(spec(s))),),
            leads_to=(),
            fairness=fair,
        )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """Processor time of this process: steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _safety(params: Params, out: Any) -> None:
    start = time.perf_counter()
    r = check(FastRaftModel(params))
    out.send(
        {
            "seconds": time.perf_counter() - start,
            "states": r.distinct_states,
            "generated": r.states_generated,
            "peak_mib": _peak_mib(),
            "cpu": _cpu_seconds(),
        }
    )


def _liveness(params: Params, store: str, properties: str, out: Any) -> None:
    start = time.perf_counter()
    model = FastRaftModel(params) if properties == "spec" else WithEventualLeader(params)
    live = check_liveness(model, store=store)
    out.send(
        {
            "seconds": time.perf_counter() - start,
            "graph_seconds": live.graph_seconds,
            "analysis_seconds": live.analysis_seconds,
            "states": live.states,
            "generated": live.generated,
            "edges": live.edges,
            "beyond": live.edges_beyond_bounds,
            "stuttering": live.stuttering_steps,
            "edge_bytes": live.edge_bytes,
            "on_disk": live.edges_on_disk,
            "verdict": {
                k: "holds within the bounds" if v.holds and v.beyond_bounds else v.holds
                for k, v in live.properties.items()
            },
            "lasso": None if live.violation is None else len(live.violation.trace),
            "symmetry": live.symmetry,
            "peak_mib": _peak_mib(),
            "cpu": _cpu_seconds(),
        }
    )


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, theirs))
    proc.start()
    result = mine.recv()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bounds", choices=sorted(BOUNDS), default="small")
    parser.add_argument("--properties", choices=["spec", "eventual-leader"], default="spec")
    parser.add_argument("--store", choices=["fingerprint", "exact"], default="fingerprint")
    args = parser.parse_args()
    params = BOUNDS[args.bounds]
    safety = _in_child(_safety, params)
    live = _in_child(_liveness, params, args.store, args.properties)
    print(f"bounds: {args.bounds} ({params}), properties: {args.properties}")
    for name, run in (("safety:  ", safety), ("liveness:", live)):
        print(
            f"{name} {run['seconds']:8.2f} s ({run['cpu']:.2f} s of processor) "
            f"{run['states']:>10,} states {run['generated']:>11,} generated  "
            f"peak {run['peak_mib']:8.1f} MiB"
        )
    print(
        f"          graph {live['graph_seconds']:.2f} s, analysis {live['analysis_seconds']:.2f} s;"
        f" {live['edges']:,} steps stored ({live['beyond']:,} beyond the bounds), "
        f"{live['stuttering']:,} stuttering left out, {live['edge_bytes']:,} bytes of steps "
        f"({live['edge_bytes'] / max(live['edges'], 1):.1f} per step), {live['on_disk']:,} on disk"
    )
    print(f"          verdict {live['verdict']}, lasso of {live['lasso']} states")
    print(f"          symmetry reduction of the graph: {live['symmetry']}")
    print(
        f"ratio:    time x{live['seconds'] / safety['seconds']:.1f} "
        f"(processor time x{live['cpu'] / safety['cpu']:.1f}), "
        f"peak memory x{live['peak_mib'] / safety['peak_mib']:.1f}"
    )


if __name__ == "__main__":
    main()
