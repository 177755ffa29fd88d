"""TLC and raftmc side by side on the liveness properties: the table of docs/liveness.md.

Each row runs TLC 2.15 on benchmarks/tla/RaftLiveness.tla (one property per run, without
symmetry) and raftmc's liveness check on the same configuration, with symmetry (its verdict)
and without (its graph, whose state count must equal TLC's). Needs Java and tla2tools.jar (see
``raftmc bench --tlc``). Usage: ``python benchmarks/liveness_tlc.py``; exit status 1 if a
verdict or a count differs.
"""

from __future__ import annotations

import sys
import time

from raftkit.modelcheck.benchmark import tlc
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine.liveness import check_liveness
from raftkit.spec.liveness import LIVENESS
from raftkit.spec.mutants import Mutant
from raftkit.spec.params import Params

#: (bounds, mutant, the TLA+ specification that has the mutant's action).
ROWS: list[tuple[dict[str, int], Mutant | None, str]] = [
    ({"servers": 2, "max_term": 3, "max_log": 2}, None, "LiveSpec"),
    ({"servers": 2, "max_term": 4, "max_log": 1}, Mutant.KEEP_NEXT_INDEX_ON_REJECT,
     "KeepNextIndexSpec"),
    ({"servers": 2, "max_term": 2, "max_log": 0}, Mutant.CANDIDATE_SKIPS_OWN_VOTE,
     "SkipOwnVoteSpec"),
    ({"servers": 2, "max_term": 4, "max_log": 1}, None, "LiveSpec"),
]


def _word(holds: bool) -> str:
    return "holds" if holds else "violated"


def main() -> int:
    reason = tlc.unavailable(fetch=True)
    if reason is not None:
        print(f"liveness_tlc: TLC cannot run here: {reason}", file=sys.stderr)
        return 3
    print("| configuration | spec | property | TLC | raftmc | distinct states (TLC, raftmc "
          "without symmetry) | TLC s |")
    print("| --- | --- | --- | --- | --- | --- | ---: |")
    differ = False
    for bounds, mutant, spec in ROWS:
        params = Params(**bounds, max_inflight=1)
        model = FastRaftModel(Params(**bounds, max_inflight=1, mutant=mutant))
        live = check_liveness(model)
        full = check_liveness(model, symmetry=False)
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in bounds.items())
        if mutant is not None:
            shown += f", `{mutant}`"
        spec_shown = spec
        for prop in LIVENESS:
            start = time.perf_counter()
            run = tlc.check(params, False, module="RaftLiveness", specification=spec,
                            properties=[prop.name], timeout=1200)
            seconds = time.perf_counter() - start
            if run.verdict not in ("ok", "property"):
                print(f"liveness_tlc: TLC failed on {prop.name}: {run.message}", file=sys.stderr)
                return 3
            ours = live.properties[prop.name].holds
            theirs = run.verdict == "ok"
            same = (ours == theirs == full.properties[prop.name].holds
                    and (not theirs or run.distinct == full.states))
            differ |= not same
            print(f"| {shown} | {spec_shown} | {prop.name} | {_word(theirs)} | {_word(ours)} | "
                  f"{run.distinct:,}, {full.states:,} | {seconds:.0f} |", flush=True)
            shown, spec_shown = "", ""
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
