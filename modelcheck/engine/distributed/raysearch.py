"""The sharded search (:mod:`.sharded`) on a Ray cluster: one actor per share.

Each share is a :class:`~.sharded.ShareWorker` in a Ray actor. In a round the coordinator asks
every active actor to expand a slice of its frontier; the call returns one object per other
share, and those objects go straight to their owners' ``absorb`` calls as object references,
so the states travel between actors (through Ray's object store) and never through the
coordinator. The coordinator waits for the round before starting the next, which keeps the
levels in step and one sender's batches in order (the batches may use per-peer id tables).

A lost actor (its process or its node died) surfaces as a Ray system error, which becomes
:class:`~.sharded.Recoverable`: the coordinator then starts new actors from the last
checkpoint. An exception raised by our own code in an actor is not retried.

Ray is imported here only, so that the single-machine path does not need it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from time import perf_counter
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from ..model import Model
from .sharded import Found, Recoverable, Runtime, ShareWorker


class _ActorShare(ShareWorker):
    """A share built inside its actor from a model factory (the tables are per process)."""

    def __init__(
        self, make_model: Callable[[], Model[Any]], w: int, n: int, budget: int, spill: str | None
    ) -> None:
        super().__init__(make_model(), w, n, budget, spill)

    def expand_routed(self, budget: int) -> tuple[Any, ...]:
        stats, batches = self.expand(budget)
        return (stats, *batches)

    def absorb_from(self, *batches: Any) -> None:
        self.absorb(batches)

    def pid(self) -> tuple[int, str]:
        return os.getpid(), ray.get_runtime_context().get_node_id()


def connect(address: str) -> None:
    """Join the cluster at ``address``; ``auto``: one already running here, else a new local
    one (as ``ray.init()`` with no address decides)."""
    if ray.is_initialized():
        return
    ray.init(
        address=None if address == "auto" else address,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        configure_logging=False,
    )


def _factory(model: Model[Any]) -> Callable[[], Model[Any]]:
    params = getattr(model, "params", None)
    if params is None:
        raise ValueError("--ray needs a model built from parameters (the compiled Raft model)")
    return partial(type(model), params, symmetry=getattr(model, "symmetry", False))


class RayRuntime:
    """The shares as Ray actors (see the module doc)."""

    def __init__(
        self, make_model: Callable[[], Model[Any]], n: int, budget: int, spill: str | None
    ) -> None:
        self.n = n
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        # One CPU per share when there are enough; otherwise a fair slice, so that a cluster
        # that lost a node can still place every share when the search restarts.
        per_share = min(1.0, cpus / n)
        actor = ray.remote(_ActorShare).options(
            num_cpus=per_share, scheduling_strategy="SPREAD", max_restarts=0
        )
        self.actors = [actor.remote(make_model, w, n, budget // n, spill) for w in range(n)]
        #: Rounds run and seconds spent in them, for the per-batch costs in the report.
        self.rounds = 0
        self.round_seconds = 0.0
        self.placement = self._get([a.pid.remote() for a in self.actors])

    def _get(self, refs: Any) -> Any:
        try:
            return ray.get(refs)
        except RayTaskError:
            raise
        except RayError as exc:
            raise Recoverable(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc

    def seed(self) -> list[tuple[int, int, int, Found | None]]:
        return self._get([a.seed.remote() for a in self.actors])

    def begin_level(self, level: int) -> None:
        self._get([a.begin_level.remote(level) for a in self.actors])

    def round(self, budget: int, active: list[int]) -> list[tuple[int, bool, Found | None]]:
        t0 = perf_counter()
        n = self.n
        outs = {
            w: self.actors[w].expand_routed.options(num_returns=n + 1).remote(budget)
            for w in active
        }
        absorbs = []
        for dest in range(n):
            refs = [outs[w][1 + dest] for w in active if w != dest]
            if refs:
                absorbs.append(self.actors[dest].absorb_from.remote(*refs))
        stats = self._get([outs[w][0] for w in active])
        self._get(absorbs)
        self.rounds += 1
        self.round_seconds += perf_counter() - t0
        return stats

    def end_level(self) -> list[tuple[int, int]]:
        return self._get([a.end_level.remote() for a in self.actors])

    def snapshot(self) -> list[bytes]:
        return self._get([a.snapshot.remote() for a in self.actors])

    def restore(self, blobs: list[bytes]) -> list[tuple[int, int]]:
        return self._get([a.restore.remote(b) for a, b in zip(self.actors, blobs, strict=True)])

    def lookup(self, w: int, index: int) -> tuple[int, int]:
        return self._get(self.actors[w].lookup.remote(index))

    def totals(self) -> list[tuple[list[int], list[int], int, int]]:
        return self._get([a.totals.remote() for a in self.actors])

    def close(self) -> None:
        for a in self.actors:
            try:
                ray.get(a.close.remote(), timeout=30)
            except Exception:  # noqa: BLE001 - a dead actor has nothing left to clean
                pass
            ray.kill(a, no_restart=True)


def ray_runtime_factory(
    model: Model[Any], address: str, n: int, budget: int, spill: str | None
) -> Callable[[], Runtime]:
    """Connect to the cluster; the returned function starts a fresh set of actors."""
    connect(address)
    make_model = _factory(model)

    def make() -> Runtime:
        return RayRuntime(make_model, n, budget, spill)

    return make


def disconnect() -> None:
    """Leave the cluster (and stop it, if :func:`connect` started a local one)."""
    if ray.is_initialized():
        ray.shutdown()
