"""Costs of the sharded search: local processes against Ray actors, and the fixed
cost of one round per number of actors, from which larger clusters are projected.

    .venv/bin/python benchmarks/sharded_costs.py local|ray [--big]

Prints one JSON object. ``--big``: configuration E of ``raftmc bench`` (history kept), else D
without history. The Ray figures use a local cluster (``ray.init()``) on loopback.
"""

from __future__ import annotations

import json
import os
import sys
from time import perf_counter
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from raftkit.modelcheck import sharded  # noqa: E402
from raftkit.modelcheck.compiled import FastRaftModel  # noqa: E402
from raftkit.modelcheck.engine import check  # noqa: E402
from raftkit.spec.params import Params  # noqa: E402


def main() -> None:
    big = "--big" in sys.argv
    params = (
        Params(max_term=2, max_log=0, max_inflight=2, history=True)
        if big
        else Params(max_term=2, max_log=0, faults=True)
    )
    out: dict[str, Any] = {}
    if sys.argv[1] == "local":
        for w in (1, 2):
            r = check(FastRaftModel(params), workers=w)
            out[f"processes_{w}"] = (r.distinct_states, r.states_generated, r.depth, r.seconds)
        model = FastRaftModel(params)
        r = sharded.search(
            model, lambda: sharded.LocalRuntime(model, 1, 4_000_000, None), shares=1
        )
        out["sharded_in_process"] = (r.distinct_states, r.states_generated, r.depth, r.seconds)
    else:
        from raftkit.modelcheck.engine.distributed import raysearch

        raysearch.connect("auto")
        factory = raysearch._factory(FastRaftModel(params))
        for n in (1, 2):
            made: list[Any] = []

            def make(n: int = n, made: list[Any] = made) -> Any:
                made.append(raysearch.RayRuntime(factory, n, 4_000_000, None))
                return made[-1]

            r = sharded.search(FastRaftModel(params), make, shares=n)
            out[f"ray_{n}"] = {
                "counts": (r.distinct_states, r.states_generated, r.depth),
                "seconds": r.seconds,
                "rounds": made[-1].rounds,
                "round_seconds": made[-1].round_seconds,
            }
        for n in (1, 2, 4, 8):
            rt = raysearch.RayRuntime(factory, n, 4_000_000, None)
            rt.seed()
            rt.begin_level(1)
            rt.round(0, list(range(n)))
            start = perf_counter()
            for _ in range(30):
                rt.round(0, list(range(n)))
            out[f"empty_round_ms_{n}_actors"] = (perf_counter() - start) / 30 * 1000
            rt.close()
        raysearch.disconnect()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
