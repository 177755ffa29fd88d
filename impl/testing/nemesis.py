"""A nemesis run: a real local cluster under faults, clients writing and reading, then a verdict.

``raftkv nemesis --minutes N`` starts ``raftkv serve`` processes on 127.0.0.1 (fsync on) and,
while client threads put, cas and read, a nemesis injects one fault at a time:

* **kill**: SIGKILL a node (the leader half the time), restart it from its disk a little later;
* **pause**: SIGSTOP a node (the leader half the time), SIGCONT it a little later: a node that
  wakes up believing it still leads;
* **partition**: cut a minority (the leader alone, half the time) off from the rest, both
  directions, through the nodes' ``blocked-peers`` files (no root needed), then heal.

At the end every fault is healed, and the run is judged:

* the history of every client operation (invocation, completion, outcome; a timeout is an
  operation of unknown outcome) must be linearizable (``linearizability.check``, per key: the
  clients move to fresh keys every ``key_epoch`` seconds so that each key's history stays small);
* every acknowledged write of a key written once must be read back (no acknowledged write lost);
* all replicas must reach the same state (same digest of the store).

The figures printed: operations by outcome, faults injected by kind, elections (terms begun,
leaders seen), latency of successful operations (p50, p99, max) and the verdict.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..client import Client, ClientError
from .linearizability import HistoryRecorder, check
from .proc_cluster import ProcCluster

EXIT_OK, EXIT_VIOLATION, EXIT_UNKNOWN = 0, 1, 3


@dataclass(frozen=True)
class NemesisConfig:
    minutes: float = 1.0
    nodes: int = 3
    clients: int = 4
    seed: int | None = None
    root: str | None = None
    key_epoch: float = 10.0
    fault_seconds: tuple[float, float] = (1.0, 4.0)  # how long a fault lasts
    quiet_seconds: tuple[float, float] = (1.0, 3.0)  # between one fault and the next


@dataclass
class Workload:
    """Client threads and what they recorded."""

    endpoints: list[str]
    clients: int
    seed: int
    keys: Any  # () -> list[str]: the keys in use now
    rec: HistoryRecorder = field(default_factory=HistoryRecorder)
    acked: list[tuple[str, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for i in range(self.clients):
            t = threading.Thread(
                target=client_worker,
                args=(i, self.endpoints, self.rec, self.stop, self.acked, self.keys,
                      random.Random(self.seed * 100 + i)),
                daemon=True,
            )  # fmt: skip
            t.start()
            self.threads.append(t)

    def finish(self, timeout: float = 15.0) -> bool:
        """Stop the clients; False if one of them hung."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self.threads)


def client_worker(
    cid: int,
    endpoints: list[str],
    rec: HistoryRecorder,
    stop: threading.Event,
    acked: list[tuple[str, int]],
    keys: Any,
    rnd: random.Random,
) -> None:
    """One client: gets, puts and cas on the shared keys, and puts of keys written only once
    (each acknowledged one must survive). Every operation goes into ``rec``."""
    cl = Client(endpoints, timeout=1.0, attempts_deadline=3.0, client_id=f"c{cid}")
    n = 0
    while not stop.is_set():
        n += 1
        key = rnd.choice(keys())
        kind = rnd.choice(["get", "put", "put", "cas", "unique"])
        try:
            if kind == "get":
                op = rec.invoke(cid, "get", key)
                rec.ok(op, cl.get(key))
            elif kind == "put":
                v = f"{cid}-{n}"
                op = rec.invoke(cid, "put", key, value=v)
                cl.put(key, v)
                rec.ok(op)
            elif kind == "cas":
                cur = rnd.choice([None, f"{cid}-{n - 1}", f"{rnd.randrange(8)}-{n - 2}"])
                v = f"{cid}-{n}"
                op = rec.invoke(cid, "cas", key, value=v, expected=cur)
                rec.ok(op, cl.cas(key, cur, v))
            else:
                k = f"u-{cid}-{n}"
                op = rec.invoke(cid, "put", k, value=n)
                cl.put(k, n)
                rec.ok(op)
                acked.append((k, n))
        except ClientError as exc:
            if exc.unknown:
                rec.info(op)
            else:
                rec.fail(op)
            # A fresh session: the abandoned request may still apply; a new id keeps the
            # sequence numbers of this client unambiguous.
            cl.close()
            cl = Client(endpoints, timeout=1.0, attempts_deadline=3.0, client_id=f"c{cid}-{n}")
    cl.close()


def lost_writes(
    endpoints: list[str], acked: list[tuple[str, int]], readers: int = 8
) -> list[tuple[str, int]]:
    """The acknowledged once-written keys that do not read back with their value (read by
    ``readers`` clients at once: a long run acknowledges tens of thousands)."""
    lost: list[tuple[str, int]] = []

    def read(part: list[tuple[str, int]]) -> None:
        cl = Client(endpoints, attempts_deadline=20)
        try:
            lost.extend((k, v) for k, v in part if cl.get(k) != v)
        finally:
            cl.close()

    with ThreadPoolExecutor(readers) as pool:
        for f in [pool.submit(read, acked[i::readers]) for i in range(readers)]:
            f.result()
    return sorted(lost)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


class _Monitor(threading.Thread):
    """Polls every node's status: the terms begun and the leaders seen."""

    def __init__(self, c: ProcCluster) -> None:
        super().__init__(daemon=True)
        self.c = c
        self.leaders: set[tuple[int, str]] = set()
        self.first_term: int | None = None
        self.max_term = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for i in list(self.c.procs):
                st = self.c.status(i)
                if not st or "term" not in st:
                    continue
                term = int(st["term"])
                if self.first_term is None:
                    self.first_term = term
                self.max_term = max(self.max_term, term)
                if st["role"] == "leader":
                    self.leaders.add((term, i))
            self.halt.wait(0.5)


class Nemesis:
    """Injects one fault at a time into a ``ProcCluster``; ``heal_all`` undoes what is left."""

    def __init__(self, c: ProcCluster, rnd: random.Random, cfg: NemesisConfig) -> None:
        self.c = c
        self.rnd = rnd
        self.cfg = cfg
        self.faults = {"kill": 0, "pause": 0, "partition": 0}
        self.killed: set[str] = set()
        self.paused: set[str] = set()
        self.cut = False

    def _victim(self) -> str:
        if self.rnd.random() < 0.5:
            lead = self.c.leader()
            if lead is not None:
                return lead
        return self.rnd.choice(self.c.ids)

    def run(self, until: float) -> None:
        while time.monotonic() < until:
            self._sleep(self.rnd.uniform(*self.cfg.quiet_seconds), until)
            if time.monotonic() >= until:
                break
            kind = self.rnd.choice(sorted(self.faults))
            victim = self._victim()
            if kind == "kill":
                self.c.kill(victim)
                self.killed.add(victim)
            elif kind == "pause":
                self.c.procs[victim].send_signal(signal.SIGSTOP)
                self.paused.add(victim)
            else:
                self._partition(victim)
            self.faults[kind] += 1
            self._sleep(self.rnd.uniform(*self.cfg.fault_seconds), until)
            self.heal_all()

    def _partition(self, victim: str) -> None:
        ids = self.c.ids
        minority = {victim}
        if len(ids) > 3 and self.rnd.random() < 0.5:
            minority.add(self.rnd.choice([i for i in ids if i != victim]))
        for i in ids:
            self.c.block(i, [j for j in ids if (j in minority) != (i in minority)])
        self.cut = True

    def heal_all(self) -> None:
        for i in sorted(self.paused):
            p = self.c.procs.get(i)
            if p is not None:
                p.send_signal(signal.SIGCONT)
        self.paused.clear()
        for i in sorted(self.killed):
            self.c.start(i)
        self.killed.clear()
        if self.cut:
            for i in self.c.ids:
                self.c.block(i, [])
            self.cut = False

    @staticmethod
    def _sleep(seconds: float, until: float) -> None:
        time.sleep(max(0.0, min(seconds, until - time.monotonic())))


def _replicas_agree(c: ProcCluster, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            st = [c.http(i, "GET", "/status?digest=1") for i in c.ids]
        except OSError:
            time.sleep(0.5)
            continue
        if len({s["digest"] for s in st}) == 1 and len({s["applied_index"] for s in st}) == 1:
            return True
        time.sleep(0.5)
    return False


def run_nemesis(cfg: NemesisConfig, as_json: bool = False, out: TextIO | None = None) -> int:
    """Run, judge, print the figures. Exit status: 0 all good, 1 a violation, 3 no verdict."""
    out = out or sys.stdout
    seed = cfg.seed if cfg.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    root = cfg.root or tempfile.mkdtemp(prefix="raftkv-nemesis-")
    os.makedirs(root, exist_ok=True)
    duration = cfg.minutes * 60
    t0 = time.monotonic()
    if not as_json:
        print(f"raftkv nemesis: {cfg.nodes} nodes, {cfg.clients} clients, {cfg.minutes:g} min, "
              f"seed {seed}; nodes' data and logs in {root}", file=out, flush=True)  # fmt: skip
    c = ProcCluster(root, cfg.nodes)
    try:
        c.start()
        c.wait_leader(timeout=30)

        def keys() -> list[str]:
            epoch = int((time.monotonic() - t0) / cfg.key_epoch)
            return [f"k{epoch}-{j}" for j in range(3)]

        work = Workload(c.endpoints, cfg.clients, seed, keys)
        monitor = _Monitor(c)
        nemesis = Nemesis(c, rnd, cfg)
        monitor.start()
        work.start()
        try:
            nemesis.run(t0 + duration)
        finally:
            nemesis.heal_all()
        c.wait_leader(timeout=60)
        clients_done = work.finish()
        monitor.halt.set()
        monitor.join(10)
        lost = lost_writes(c.endpoints, list(work.acked))
        agree = _replicas_agree(c)
        lin = check(work.rec.ops, timeout=max(120.0, duration / 5))
        tracebacks = sum(open(c.logs[i], errors="replace").read().count("Traceback")
                         for i in c.ids if i in c.logs)  # fmt: skip
    finally:
        c.close()
    ops = work.rec.ops
    ok = [o for o in ops if o.status == "ok"]
    lat = sorted((o.ret - o.call) * 1000 for o in ok)
    figures: dict[str, Any] = {
        "seed": seed,
        "nodes": cfg.nodes,
        "clients": cfg.clients,
        "minutes": cfg.minutes,
        "wall_seconds": round(time.monotonic() - t0, 1),
        "operations": {
            "total": len(ops),
            "ok": len(ok),
            "ok_by_kind": {k: sum(o.kind == k for o in ok) for k in ("get", "put", "cas")},
            "failed": sum(o.status == "fail" for o in ops),
            "unknown": sum(o.status == "info" for o in ops),
        },
        "faults": dict(nemesis.faults),
        "elections": {
            "terms_begun": monitor.max_term - (monitor.first_term or monitor.max_term),
            "first_term": monitor.first_term,
            "last_term": monitor.max_term,
            "leaders_seen": len(monitor.leaders),
        },
        "latency_ms": {
            "p50": round(percentile(lat, 0.50), 1),
            "p99": round(percentile(lat, 0.99), 1),
            "max": round(lat[-1], 1) if lat else math.nan,
        },
        "acknowledged_unique_writes": len(work.acked),
        "lost_writes": len(lost),
        "replicas_agree": agree,
        "clients_finished": clients_done,
        "node_log_tracebacks": tracebacks,
        "linearizability": lin.verdict,
    }
    if not lin.ok or lost or not agree or not clients_done:
        verdict, code = "VIOLATION", EXIT_VIOLATION
    elif lin.unknown_keys:
        verdict, code = "unknown (the checker ran out of time)", EXIT_UNKNOWN
    else:
        verdict, code = "linearizable, no acknowledged write lost, replicas agree", EXIT_OK
    figures["verdict"] = verdict
    if as_json:
        print(json.dumps(figures), file=out)
    else:
        _print_figures(figures, out)
        if not lin.ok:
            print(lin.detail, file=out)
        if lost:
            print(f"lost writes (first 10): {lost[:10]}", file=out)
    if code == EXIT_OK and cfg.root is None:
        shutil.rmtree(root, ignore_errors=True)
    return code


def _print_figures(f: dict[str, Any], out: TextIO) -> None:
    o, e, lat = f["operations"], f["elections"], f["latency_ms"]
    by = ", ".join(f"{n:,} {k}" for k, n in o["ok_by_kind"].items())
    lines = [
        f"ran {f['wall_seconds']:,.0f} s in all (faults for {f['minutes'] * 60:,.0f} s)",
        f"operations: {o['total']:,} ({o['ok']:,} ok: {by}; {o['failed']:,} failed; "
        f"{o['unknown']:,} of unknown outcome)",
        "faults: " + ", ".join(f"{n} {k}" for k, n in f["faults"].items()),
        f"elections: {e['terms_begun']} terms begun (term {e['first_term']} to "
        f"{e['last_term']}), {e['leaders_seen']} leaders seen",
        f"latency of ok operations: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms",
        f"acknowledged writes of once-written keys: {f['acknowledged_unique_writes']:,}, "
        f"lost: {f['lost_writes']}",
        f"replicas agree: {'yes' if f['replicas_agree'] else 'NO'}; "
        f"tracebacks in node logs: {f['node_log_tracebacks']}",
        f"linearizability: {f['linearizability']}",
        f"verdict: {f['verdict']}",
    ]
    for line in lines:
        print(line, file=out)
