"""``raftmc bench``: the checker on configurations A, B, D and E, and TLC beside it.

Each run happens in a child process of its own, so its peak RSS is its own: the figure is the
peak of that process plus the peak of its largest worker. Bytes per state are the seen-set's
(all shares together) divided by the distinct states. The canonicalisation cost is measured
apart, with cold caches, on 20,000 reachable states (1-worker rows only, not with ``tlc``).
With ``--repeat N`` each row is the median of N runs, with their spread beside it.

Counts are checked against TLC's: without ``tlc``, against the counts TLC gave on raft.tla with
its history variables (3 servers, 1 value, MaxDup 1), where known; with ``tlc``, TLC (see
:mod:`.tlc`, one worker) runs the same configuration in the same invocation, its runs
alternated with ours (TLC, raftmc, TLC, raftmc, ...) so that a slower spell of the machine
hits both, and the ratio is the median of TLC's times over the median of ours. A mismatch is
printed and makes the exit status 1.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The benchmark's configurations: (name, bounds, TLC distinct, TLC generated, TLC depth,
#: TLC distinct and generated with symmetry), TLC's counts with raft.tla's history variables.
CONFIGS: dict[str, dict[str, Any]] = {
    "A": {"bounds": {"max_term": 2, "max_log": 0, "max_inflight": 1, "faults": False},
          "tlc": (77_933, 670_375, 40), "tlc_sym": (13_058, 112_270)},
    "B": {"bounds": {"max_term": 2, "max_log": 1, "max_inflight": 1, "faults": False},
          "tlc": (511_055, 4_088_992, 48), "tlc_sym": (85_352, 682_814)},
    "D": {"bounds": {"max_term": 2, "max_log": 0, "max_inflight": 1, "faults": True},
          "tlc": (705_532, 8_683_474, 39), "tlc_sym": (118_001, 1_451_643)},
    "E": {"bounds": {"max_term": 2, "max_log": 0, "max_inflight": 2, "faults": False},
          "tlc": (1_362_716, 12_876_046, 42), "tlc_sym": (227_417, 2_148_722)},
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
    #: TLC's own seconds (its start, parsing included, to its last line), measured beside
    #: ours in the same invocation (1 worker): the median of its runs.
    tlc_seconds: float | None = None
    #: Every run's seconds, sorted; the row's other figures are the median run's.
    all_seconds: list[float] | None = None
    #: Every TLC run's own seconds, sorted.
    tlc_all_seconds: list[float] | None = None
    #: Whole processes, start-up included (the JVM; the interpreter, imports and the
    #: model's compilation): the medians of the runs.
    wall_seconds: float | None = None
    tlc_wall_seconds: float | None = None
    #: TLC's (distinct, generated, depth) from the run beside ours.
    tlc_counts: tuple[int, int, int | None] | None = None
    #: The CPU seconds of TLC's median run (the JVM's threads all together).
    tlc_cpu_seconds: float | None = None

    @property
    def distinct_per_s(self) -> float:
        return self.distinct / self.seconds if self.seconds else 0.0

    @property
    def times_tlc(self) -> float | None:
        """How many times faster than TLC: its own seconds over our search's."""
        if self.tlc_seconds is None or not self.seconds:
            return None
        return self.tlc_seconds / self.seconds

    @property
    def times_tlc_wall(self) -> float | None:
        """The same for the whole processes, start-up included."""
        if self.tlc_wall_seconds is None or not self.wall_seconds:
            return None
        return self.tlc_wall_seconds / self.wall_seconds

    @property
    def times_tlc_cpu(self) -> float | None:
        """The same for the processes' CPU seconds, which a loaded machine stretches less."""
        if self.tlc_cpu_seconds is None or not self.cpu_seconds:
            return None
        return self.tlc_cpu_seconds / self.cpu_seconds

    @property
    def generated_per_s(self) -> float:
        return self.generated / self.seconds if self.seconds else 0.0


def _canon_cost(params: Any, symmetry: bool, sample: int = 20_000) -> float:
    """Microseconds to compute one state's key, caches cold, on reachable states."""
    from ..compiled import FastRaftModel

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
    from ..compiled import FastRaftModel
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
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.benchmark.runs", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run failed: {proc.stderr.strip()[-400:]}")
    return {**json.loads(proc.stdout), "wall_seconds": wall}


def _median(outs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[float]]:
    """The median of several runs of one configuration by seconds (of an even number, the
    faster of the middle two), with the median wall time, and every run's seconds.

    A shared machine's wall times vary from run to run by more than a change to the checker
    usually gains (the neighbours' load, the hypervisor's steal time), so one run is a sample,
    not a figure; the median of several is the figure and the spread says how far to trust it.
    """
    counts = {(o["distinct"], o["generated"], o["depth"]) for o in outs}
    if len(counts) > 1:
        raise RuntimeError(f"runs of one configuration disagree on the counts: {sorted(counts)}")
    outs = sorted(outs, key=lambda o: o["seconds"])
    median = dict(outs[(len(outs) - 1) // 2])
    median["canon_us"] = max(o.get("canon_us", 0.0) for o in outs)
    median["wall_seconds"] = statistics.median_low(o["wall_seconds"] for o in outs)
    return median, [o["seconds"] for o in outs]


def _tlc_run(params: dict[str, Any], symmetry: bool) -> dict[str, Any]:
    """One TLC run (1 worker) of the configuration, as a run's figures."""
    from ...spec.params import Params
    from . import tlc

    result = tlc.check(Params(**params), symmetry)
    if result.verdict != "ok":
        raise tlc.TlcError(f"TLC: {result.message}")
    return {"distinct": result.distinct, "generated": result.generated, "depth": result.depth,
            "seconds": result.seconds, "wall_seconds": result.wall_seconds,
            "cpu_seconds": result.cpu_seconds}


def run(
    configs: list[str],
    symmetries: list[bool],
    workers: list[int],
    histories: Sequence[bool] = (True,),
    progress: Any = None,
    repeat: int = 1,
    tlc: bool = False,
) -> list[Row]:
    """Every combination, each run in a child process ``repeat`` times (the row is the median
    run); counts checked against TLC's.

    With ``tlc``, each (configuration, history, symmetry) is run by TLC too, ``repeat`` times,
    each TLC run followed by one run of every worker count, so TLC's runs and ours alternate.
    """
    rows = []
    for name in configs:
        cfg = CONFIGS[name]
        for history in histories:
            for symmetry in symmetries:
                params = {**cfg["bounds"], "history": history}
                specs = [
                    {"params": params, "symmetry": symmetry, "workers": w,
                     "canon": w == 1 and not tlc}
                    for w in workers
                ]
                tlc_outs: list[dict[str, Any]] = []
                outs: list[list[dict[str, Any]]] = [[] for _ in specs]
                for k in range(repeat):
                    if tlc:
                        tlc_outs.append(_tlc_run(params, symmetry))
                    for spec, runs in zip(specs, outs, strict=True):
                        # The canonicalisation cost needs measuring once, not per run.
                        runs.append(_child({**spec, "canon": spec["canon"] and k == 0}))
                tlc_median, tlc_seconds = _median(tlc_outs) if tlc else ({}, [])
                for spec, runs in zip(specs, outs, strict=True):
                    out, seconds = _median(runs)
                    got = (out["distinct"], out["generated"], out["depth"])
                    tlc_ok = None
                    tlc_counts = None
                    if tlc:
                        tlc_counts = (tlc_median["distinct"], tlc_median["generated"],
                                      tlc_median["depth"])
                        tlc_ok = got == tlc_counts
                    elif history:
                        want = cfg["tlc_sym"] if symmetry else cfg["tlc"]
                        tlc_ok = all(x is None or x == y for x, y in zip(want, got, strict=False))
                    row = Row(
                        name, symmetry, spec["workers"], history, *got, out["seconds"],
                        out["seen_bytes"] / max(out["distinct"], 1), out["peak_rss_mb"],
                        out["canon_us"], tlc_ok, None, out["cpu_seconds"],
                        tlc_median.get("seconds"), seconds,
                        tlc_all_seconds=tlc_seconds or None,
                        wall_seconds=out["wall_seconds"],
                        tlc_wall_seconds=tlc_median.get("wall_seconds"),
                        tlc_counts=tlc_counts,
                        tlc_cpu_seconds=tlc_median.get("cpu_seconds"),
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


def _spread(seconds: list[float] | None) -> str:
    if not seconds or len(seconds) < 2:
        return "-"
    return f"{seconds[0]:.1f}-{seconds[-1]:.1f} ({len(seconds)})"


def _counts_word(ok: bool | None) -> str:
    return {True: "match", False: "MISMATCH", None: "-"}[ok]


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (the counts checked against TLC's known ones)."""
    head = (
        "| cfg | sym | history | workers | distinct | generated | depth | seconds | "
        "runs min-max s | cpu s | distinct/s | generated/s | bytes/state | peak RSS MB | "
        "canon µs/state | TLC counts |"
    )
    lines = [head, "|" + " --- |" * 16]
    for r in rows:
        lines.append(
            f"| {r.config} | {'on' if r.symmetry else 'off'} | {'on' if r.history else 'off'} | "
            f"{r.workers} | {r.distinct:,} | {r.generated:,} | {r.depth} | {r.seconds:.1f} | "
            f"{_spread(r.all_seconds)} | {r.cpu_seconds:.1f} | {r.distinct_per_s:,.0f} | "
            f"{r.generated_per_s:,.0f} | {r.bytes_per_state:.1f} | {r.peak_rss_mb:.0f} | "
            f"{f'{r.canon_us:.1f}' if r.canon_us else '-'} | {_counts_word(r.tlc_ok)} |"
        )
    return "\n".join(lines)


def side_by_side(rows: list[Row]) -> str:
    """The rows run beside TLC as a Markdown table: both checkers' times and the ratios.

    "TLC s" is TLC's own time (from its start, parsing included, to its last line), "raftmc s"
    the search's (the model compiled, before the first state); the wall columns are the whole
    processes, the JVM's and the interpreter's start-up included, and so are the CPU columns
    (all of a process's threads: TLC's collector and compiler run beside its one worker).
    """
    head = (
        "| cfg | sym | history | raftmc workers | distinct | generated | depth | TLC s | "
        "TLC runs min-max s | raftmc s | raftmc runs min-max s | x TLC | TLC wall s | "
        "raftmc wall s | x TLC wall | TLC cpu s | raftmc cpu s | x TLC cpu | counts |"
    )
    lines = [head, "|" + " --- |" * 19]
    for r in rows:
        times, wall, cpu = r.times_tlc, r.times_tlc_wall, r.times_tlc_cpu
        counts = _counts_word(r.tlc_ok)
        if r.tlc_ok is False and r.tlc_counts is not None:
            counts += " (TLC {:,} / {:,} / {})".format(*r.tlc_counts)
        lines.append(
            f"| {r.config} | {'on' if r.symmetry else 'off'} | {'on' if r.history else 'off'} | "
            f"{r.workers} | {r.distinct:,} | {r.generated:,} | {r.depth} | "
            f"{r.tlc_seconds or 0:.1f} | {_spread(r.tlc_all_seconds)} | {r.seconds:.1f} | "
            f"{_spread(r.all_seconds)} | {f'{times:.1f}' if times else '-'} | "
            f"{r.tlc_wall_seconds or 0:.1f} | {r.wall_seconds or 0:.1f} | "
            f"{f'{wall:.1f}' if wall else '-'} | {r.tlc_cpu_seconds or 0:.1f} | "
            f"{r.cpu_seconds:.1f} | {f'{cpu:.1f}' if cpu else '-'} | {counts} |"
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
        d["times_tlc_wall"] = r.times_tlc_wall
        d["times_tlc_cpu"] = r.times_tlc_cpu
        out.append(d)
    return out


if __name__ == "__main__":
    print(json.dumps(run_one(json.loads(sys.argv[1]))))
