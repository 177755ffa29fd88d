"""``raftmc bench``: the checker against TLC's figures on issue 3's configurations.

Each run happens in a child process of its own, so its peak RSS is its own: the figure is the
peak of that process plus the peak of its largest worker. Bytes per state are the seen-set's
(all shares together) divided by the distinct states. The canonicalisation cost is measured
apart, with cold caches, on 20,000 reachable states (1-worker rows only).
Counts are checked against TLC's (raft.tla with its history variables, 3 servers, 1 value,
MaxDup 1); a mismatch is printed and makes the exit status 1. "x TLC" is TLC's seconds (from
the issue, 1 worker) over ours; with ``--repeat N`` each row is the median of N runs, with
their spread beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..engine.checker import MAX_WORKERS
from .errors import UsageError

#: Issue 3's configurations: (name, bounds, TLC distinct, TLC generated, TLC depth,
#: TLC distinct with symmetry, TLC seconds without / with symmetry).
CONFIGS: dict[str, dict[str, Any]] = {
    "A": {"bounds": {"max_term": 2, "max_log": 0, "max_inflight": 1, "faults": False},
          "tlc": (77_933, 670_375, 40), "tlc_sym": (13_058, 112_270), "tlc_s": (None, None)},
    "B": {"bounds": {"max_term": 2, "max_log": 1, "max_inflight": 1, "faults": False},
          "tlc": (511_055, 4_088_992, 48), "tlc_sym": (85_352, None), "tlc_s": (52, 11)},
    "D": {"bounds": {"max_term": 2, "max_log": 0, "max_inflight": 1, "faults": True},
          "tlc": (705_532, 8_683_474, 39), "tlc_sym": (118_001, None), "tlc_s": (73, 16)},
    "E": {"bounds": {"max_term": 2, "max_log": 0, "max_inflight": 2, "faults": False},
          "tlc": (1_362_716, 12_876_046, 42), "tlc_sym": (227_417, None), "tlc_s": (114, 25)},
}


@dataclass
class Row:
    config: str
    symmetry: bool
    workers: int
    history: bool
    distinct: int
    generated: int
    depth: int
    seconds: float
    bytes_per_state: float
    peak_rss_mb: float
    canon_us: float
    tlc_ok: bool | None
    max_states: int | None = None
    cpu_seconds: float = 0.0
    #: TLC's seconds for the same configuration (1 worker), where the issue gives them.
    tlc_seconds: float | None = None
    #: Every run's seconds, sorted; the row's other figures are the median run's.
    all_seconds: list[float] | None = None

    @property
    def distinct_per_s(self) -> float:
        return self.distinct / self.seconds if self.seconds else 0.0

    @property
    def times_tlc(self) -> float | None:
        """How many times faster than TLC (its seconds over ours)."""
        if self.tlc_seconds is None or not self.seconds:
            return None
        return self.tlc_seconds / self.seconds

    @property
    def generated_per_s(self) -> float:
        return self.generated / self.seconds if self.seconds else 0.0


def _canon_cost(params: Any, symmetry: bool, sample: int = 20_000) -> float:
    """Microseconds to compute one state's key, caches cold, on reachable states."""
    from ..compiled.model import FastRaftModel

    bm = FastRaftModel(params, symmetry).batch()
    states = list(bm.initial())
    frontier = states
    while len(states) < sample and frontier:
        keys: list[int] = []
        succs: list[Any] = []
        bm.expand(frontier[:2000], keys, succs, [], [])
        frontier = succs
        states.extend(succs)
    states = states[:sample]
    for cache in ("_cand", "_bag_rel"):
        if hasattr(bm, cache):
            getattr(bm, cache).clear()
    t0 = time.perf_counter()
    for st in states:
        bm.key(st)
    return (time.perf_counter() - t0) / len(states) * 1e6


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """One benchmark run in this process; returns its figures (for the parent to collect)."""
    from ...spec.params import Params
    from ..compiled.model import FastRaftModel
    from ..engine import check

    params = Params(**spec["params"])
    model = FastRaftModel(params, symmetry=spec["symmetry"])
    result = check(model, workers=spec["workers"], max_states=spec.get("max_states"))
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = me.ru_maxrss
    rss_children = kids.ru_maxrss
    # CPU seconds of the run and its workers: on a shared machine, wall time says more about
    # the neighbours than about the checker.
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return {
        "distinct": result.distinct_states,
        "generated": result.states_generated,
        "depth": result.depth,
        "seconds": result.seconds,
        "cpu_seconds": cpu,
        "seen_bytes": result.seen_bytes,
        "peak_rss_mb": (rss + rss_children) / 1024,
        "result": result.result,
        "canon_us": _canon_cost(params, spec["symmetry"]) if spec.get("canon") else 0.0,
    }


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli.bench", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run failed: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout)


def _median_run(spec: dict[str, Any], repeat: int) -> tuple[dict[str, Any], list[float]]:
    """``repeat`` runs of ``spec``; the median run by seconds (of an even number, the faster
    of the middle two) and every run's seconds.

    A shared machine's wall times vary from run to run by more than a change to the checker
    usually gains (the neighbours' load, the hypervisor's steal time), so one run is a sample,
    not a figure; the median of several is the figure and the spread says how far to trust it.
    """
    outs = []
    for k in range(repeat):
        # The canonicalisation cost needs measuring once, not per run.
        outs.append(_child({**spec, "canon": spec.get("canon", False) and k == 0}))
    counts = {(o["distinct"], o["generated"], o["depth"]) for o in outs}
    if len(counts) > 1:
        raise RuntimeError(f"runs of one configuration disagree on the counts: {sorted(counts)}")
    outs.sort(key=lambda o: o["seconds"])
    median = dict(outs[(len(outs) - 1) // 2])
    median["canon_us"] = max(o["canon_us"] for o in outs)
    return median, [o["seconds"] for o in outs]


def run(
    configs: list[str],
    symmetries: list[bool],
    workers: list[int],
    history: bool = True,
    progress: Any = None,
    repeat: int = 1,
) -> list[Row]:
    """Every combination, each run in a child process ``repeat`` times (the row is the median
    run); counts checked against TLC's."""
    rows = []
    for name in configs:
        cfg = CONFIGS[name]
        for symmetry in symmetries:
            for w in workers:
                spec = {
                    "params": {**cfg["bounds"], "history": history},
                    "symmetry": symmetry,
                    "workers": w,
                    "canon": w == 1,
                }
                out, seconds = _median_run(spec, repeat)
                tlc_ok = None
                tlc_s = None
                if history:
                    want = cfg["tlc_sym"] if symmetry else cfg["tlc"]
                    got = (out["distinct"], out["generated"], out["depth"])
                    tlc_ok = all(x is None or x == y for x, y in zip(want, got, strict=False))
                    tlc_s = cfg["tlc_s"][1 if symmetry else 0]
                row = Row(
                    name, symmetry, w, history, out["distinct"], out["generated"], out["depth"],
                    out["seconds"], out["seen_bytes"] / max(out["distinct"], 1),
                    out["peak_rss_mb"], out["canon_us"], tlc_ok, None, out["cpu_seconds"],
                    tlc_s, seconds,
                )
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows


def scaling(sizes: list[int], progress: Any = None) -> list[Row]:
    """One large configuration stopped at several sizes: time and memory against states."""
    rows = []
    bounds = {"max_term": 3, "max_log": 1, "max_inflight": 2, "faults": False}
    for size in sizes:
        spec = {"params": bounds, "symmetry": True, "workers": 1, "max_states": size}
        out = _child(spec)
        row = Row(
            "T3L1F2", True, 1, False, out["distinct"], out["generated"], out["depth"],
            out["seconds"], out["seen_bytes"] / max(out["distinct"], 1), out["peak_rss_mb"],
            0.0, None, size, out["cpu_seconds"],
        )
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    head = (
        "| cfg | sym | workers | distinct | generated | depth | seconds | runs min-max s | "
        "cpu s | distinct/s | generated/s | bytes/state | peak RSS MB | canon µs/state | "
        "TLC s | x TLC | TLC counts |"
    )
    lines = [head, "|" + " --- |" * 17]
    for r in rows:
        tlc = {True: "match", False: "MISMATCH", None: "-"}[r.tlc_ok]
        spread = "-"
        if r.all_seconds and len(r.all_seconds) > 1:
            spread = f"{r.all_seconds[0]:.1f}-{r.all_seconds[-1]:.1f} ({len(r.all_seconds)})"
        times = r.times_tlc
        lines.append(
            f"| {r.config} | {'on' if r.symmetry else 'off'} | {r.workers} | {r.distinct:,} | "
            f"{r.generated:,} | {r.depth} | {r.seconds:.1f} | {spread} | {r.cpu_seconds:.1f} | "
            f"{r.distinct_per_s:,.0f} | "
            f"{r.generated_per_s:,.0f} | {r.bytes_per_state:.1f} | {r.peak_rss_mb:.0f} | "
            f"{f'{r.canon_us:.1f}' if r.canon_us else '-'} | "
            f"{r.tlc_seconds if r.tlc_seconds is not None else '-'} | "
            f"{f'{times:.1f}' if times is not None else '-'} | {tlc} |"
        )
    return "\n".join(lines)


def rows_json(rows: list[Row]) -> list[dict[str, Any]]:
    """The rows for ``--json``."""
    out = []
    for r in rows:
        d = dict(r.__dict__)
        d["distinct_per_s"] = r.distinct_per_s
        d["generated_per_s"] = r.generated_per_s
        d["times_tlc"] = r.times_tlc
        out.append(d)
    return out


if __name__ == "__main__":
    print(json.dumps(run_one(json.loads(sys.argv[1]))))


# --- the command ------------------------------------------------------------------------------


def add_command(commands: Any) -> None:
    """``raftmc bench``: issue 3's configurations with and without symmetry, 1 and 2 workers."""
    bench = commands.add_parser(
        "bench",
        help="benchmark the checker on issue 3's configurations against TLC's figures",
        description=(
            "Run configurations A, B, D, E (3 servers, 1 value, max term 2, raft.tla's history\n"
            "variables kept, as TLC ran them) with and without symmetry, at 1 and 2 workers,\n"
            "each in a child process; print distinct, generated, seconds, rates, bytes per\n"
            "state of the seen-set, peak RSS and the cost of a canonical key, and check the\n"
            "counts against TLC's. --scaling adds one configuration stopped at 4 sizes."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    bench.add_argument("--configs", default="A,B,D,E", help="comma-separated (default: A,B,D,E)")
    bench.add_argument("--workers", default="1,2", help="comma-separated (default: 1,2)")
    bench.add_argument(
        "--symmetry", choices=["both", "on", "off"], default="both",
        help="with symmetry reduction, without, or both (default: both)",
    )
    bench.add_argument(
        "--no-history", action="store_true",
        help="leave out raft.tla's history variables (TLC's figures then do not apply)",
    )
    bench.add_argument(
        "--scaling", default="",
        help="comma-separated state counts for the scaling table, e.g. 250000,500000,"
             "1000000,2000000 (default: none)",
    )
    bench.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="run each combination N times and report the median run, with the spread; "
             "the scaling table runs once (default: 1)",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run ``raftmc bench``; exit status 1 if a count differs from TLC's."""
    # Every value is checked before the first run: a benchmark takes minutes, and a bad value
    # found at its end would throw them away.
    try:
        configs = [c.strip().upper() for c in args.configs.split(",") if c.strip()]
        workers = [int(w) for w in args.workers.split(",")]
        sizes = [int(s) for s in args.scaling.split(",") if s.strip()]
    except ValueError:
        raise UsageError("--workers and --scaling take comma-separated integers") from None
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        what = f"unknown {unknown}" if unknown else "none given"
        raise UsageError(f"--configs: {what} (known: A, B, D, E)")
    if any(not 1 <= w <= MAX_WORKERS for w in workers):
        low = "at least 1" if any(w < 1 for w in workers) else f"at most {MAX_WORKERS}"
        raise UsageError(f"--workers must each be {low} (got {args.workers})")
    if any(size < 1 for size in sizes):
        raise UsageError(f"--scaling: state counts must each be at least 1 (got {args.scaling})")
    if args.repeat < 1:
        raise UsageError(f"--repeat must be at least 1 (got {args.repeat})")
    symmetries = {"both": [False, True], "on": [True], "off": [False]}[args.symmetry]

    def show(row: Any) -> None:
        if not args.json:
            print(table([row]).splitlines()[-1], flush=True)

    if not args.json:
        print(table([]), flush=True)
    rows = run(
        configs, symmetries, workers, history=not args.no_history, progress=show,
        repeat=args.repeat,
    )
    scale = []
    if sizes:
        if not args.json:
            print("\nscaling (max term 3, max log 1, max in flight 2, symmetry, 1 worker):")
            print(table([]), flush=True)
        scale = scaling(sizes, progress=show)
    if args.json:
        print(json.dumps({"runs": rows_json(rows), "scaling": rows_json(scale)}))
    return 1 if any(r.tlc_ok is False for r in rows) else 0
