"""The reachable graph a liveness check needs: every distinct state and every step between them.

A safety search forgets a state's successors once it has looked at them; a liveness check must
find cycles, so :func:`build_graph` keeps them. It searches breadth-first, as the engine does,
and numbers the distinct in-bounds states 0, 1, 2, ... in the order found. Since states are
expanded in that same order, the steps are stored grouped by source (compressed sparse rows):
``offsets[i]:offsets[i + 1]`` are the steps of state ``i``, each a ``target`` and a ``label``.

What is stored, and what is not:

* a step to a state beyond the bounds has target :data:`BEYOND`: it is never followed, but it
  makes its action possible in the state it leaves (TLC evaluates ``ENABLED`` without the state
  constraint, see :mod:`raftkit.modelcheck.engine.liveness`). That is its only use, so only the
  steps of actions under some fairness (``beyond_actions``) are kept;
* a step back to the very same state is stuttering (``succ == state``): TLA+'s ``<<A>>_vars``
  excludes it, so it neither makes an action possible nor takes it, and every state may stutter
  anyway. It is counted and dropped. Under symmetry a step to another member of the same class
  is a real step and is kept, as a self-loop;
* each state's truth value under each formula the properties need (their P and Q), one byte
  per state and formula, evaluated when the state is found: states themselves are not kept.

Costs: 8 bytes per stored step (int32 target, int32 label index; 10 with an int16 group
element under a symmetry witness), held in memory up to ``edge_budget`` steps and in one file
per column in ``spill_dir`` beyond it (read back memory-mapped);
per state 16 bytes of arrays (offset, parent, depth) plus one byte per formula, plus the
dictionary from keys to numbers (about 100 bytes a state in CPython), which is what the
search needs to recognise a state.
"""

from __future__ import annotations

import gc
import math
import os
import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np

from ..model import Label, Model
from ..progress import Snapshot

#: The target of a step to a state beyond the bounds.
BEYOND = -1
#: Steps kept in memory before they are spilled to disk (8 bytes each).
EDGE_BUDGET = 16_000_000
# Expanded states between two looks at the clock, as in the engine.
_TICK = 128


@dataclass
class StateGraph:
    """The reachable in-bounds states of a model and the steps between them."""

    #: State number -> key (fingerprint, or canonical state with the exact store).
    keys: list[Hashable]
    #: Numbers of the initial states, each once, in the model's order.
    initial: np.ndarray
    #: The state each state was first found from (-1 for an initial state): a breadth-first
    #: tree, so following it back gives a shortest path from an initial state.
    parent: np.ndarray
    #: Steps from the nearest initial state.
    depth: np.ndarray
    #: Steps of state ``i``: ``offsets[i]`` to ``offsets[i + 1]`` (int64, length states + 1).
    offsets: np.ndarray
    #: Target state of each step (int32; :data:`BEYOND` beyond the bounds).
    target: np.ndarray
    #: Label of each step, as an index into ``labels`` (int32).
    label: np.ndarray
    labels: list[Label]
    #: ``values[f, i]``: formula ``f`` holds in state ``i``.
    values: np.ndarray
    generated: int = 0
    stuttering: int = 0
    edges_on_disk: int = 0
    #: Whether states were keyed by their canonical forms.
    symmetry: bool = True
    #: Whether the model's canonical form differs from some state found (it has a symmetry).
    reducible: bool = False
    #: Why the search stopped before the graph was complete, or None.
    stopped_by: str | None = None
    seconds: float = 0.0
    #: With a symmetry witness (``witness=True``): per step, the index of the group element
    #: that maps the step's concrete successor to its class's representative; per state, that
    #: of the state the search expanded (the first member of its class it found). Else None.
    step_witness: np.ndarray | None = None
    node_witness: np.ndarray | None = None
    _keep: list[Any] = field(default_factory=list, repr=False)

    @property
    def states(self) -> int:
        return len(self.keys)

    @property
    def edges(self) -> int:
        return int(self.target.shape[0])

    @property
    def complete(self) -> bool:
        return self.stopped_by is None

    def sources(self) -> np.ndarray:
        """The source state of each step (int32), from the offsets."""
        counts = np.diff(self.offsets)
        return np.repeat(np.arange(self.states, dtype=np.int32), counts)


class _EdgeLog:
    """Steps as int32 columns (target, label) and, under a symmetry witness, an int16 column
    of group elements: in memory up to a budget and in files beyond it."""

    def __init__(self, budget: int, spill_dir: str | None, witness: bool = False) -> None:
        self.budget = budget
        self.spill_dir = spill_dir
        self.codes = ("i", "i", "h") if witness else ("i", "i")
        self.columns = [array(code) for code in self.codes]
        self.files: list[Any] = []
        self.spilled = 0

    @property
    def target(self) -> array[int]:
        return self.columns[0]

    @property
    def label(self) -> array[int]:
        return self.columns[1]

    def __len__(self) -> int:
        return self.spilled + len(self.columns[0])

    def spill_if_full(self) -> None:
        if len(self.columns[0]) < self.budget:
            return
        if not self.files:
            directory = self.spill_dir or tempfile.gettempdir()
            self.files = [
                tempfile.NamedTemporaryFile(prefix=f"liveness-{k}-", dir=directory)
                for k in range(len(self.codes))
            ]
        for column, f in zip(self.columns, self.files, strict=True):
            column.tofile(f.file)
        self.spilled += len(self.columns[0])
        self.columns = [array(code) for code in self.codes]

    def even_up(self) -> None:
        """An interrupt between the columns' appends leaves them uneven: drop the odd step."""
        shortest = min(len(c) for c in self.columns)
        for column in self.columns:
            del column[shortest:]

    def finish(self) -> tuple[list[np.ndarray], list[Any]]:
        """Every column as an array: memory-mapped files once spilled (the files are unlinked
        at once and live as long as the maps)."""
        dtypes = [np.dtype(code) for code in self.codes]
        if not self.files:
            out = [
                np.frombuffer(column, dtype=dtype)
                for column, dtype in zip(self.columns, dtypes, strict=True)
            ]
            return out, list(self.columns)
        out = []
        for column, f, dtype in zip(self.columns, self.files, dtypes, strict=True):
            column.tofile(f.file)
            f.file.flush()
            total = self.spilled + len(column)
            out.append(
                np.memmap(f.name, dtype=dtype, mode="r", shape=(total,))
                if total
                else np.zeros(0, dtype=dtype)
            )
            f.close()  # deletes the name; the map keeps the data
        self.columns = [array(code) for code in self.codes]
        return out, []


def _identity(state: Hashable) -> Hashable:
    return state


def build_graph(
    model: Model[Any],
    formulas: Sequence[Callable[[Any], bool]] = (),
    *,
    symmetry: bool = True,
    exact: bool = False,
    max_states: int | None = None,
    max_seconds: float | None = None,
    spill_dir: str | None = None,
    edge_budget: int = EDGE_BUDGET,
    progress: Callable[[Snapshot], None] | None = None,
    progress_interval: float = 0.5,
    beyond_actions: frozenset[str] | None = None,
    witness: bool = False,
) -> StateGraph:
    """Explore every state of ``model`` reachable within its bounds, keeping every step.

    ``formulas`` are evaluated on every state found. ``symmetry`` False keys states by
    themselves instead of by ``model.canonical``; ``exact`` keys them by the (canonical) state
    instead of its 64-bit hash. The search stops early, leaving ``stopped_by`` set, after
    ``max_states`` distinct states, ``max_seconds`` or on Ctrl-C. ``progress`` is called with a
    :class:`~raftkit.modelcheck.progress.Snapshot` every ``progress_interval`` seconds or so.
    Steps beyond the bounds are kept for the actions named in ``beyond_actions`` (all when
    None). ``witness`` (with ``symmetry``) keys states by ``model.canonical_witness`` and keeps
    the group elements it returns (see :class:`~raftkit.modelcheck.engine.model.SymmetryWitness`).
    """
    start = perf_counter()
    canonical = model.canonical
    keyof: Callable[[Hashable], Hashable] = _identity if exact else hash
    within = model.within_bounds
    successors = model.successors
    limit = max_states if max_states is not None else math.inf
    deadline = start + max_seconds if max_seconds is not None else math.inf
    next_report = start + progress_interval

    ids: dict[Hashable, int] = {}
    keys: list[Hashable] = []
    parent = array("i")
    depth = array("i")
    offsets = array("q")
    values = [bytearray() for _ in formulas]
    checks = list(zip(formulas, values, strict=True))
    label_ids: dict[Label, int] = {}
    labels: list[Label] = []
    keep_beyond: list[bool] = []  # per label index: keep its steps beyond the bounds
    witness = witness and symmetry
    log = _EdgeLog(edge_budget, spill_dir, witness)
    witness_of = model.canonical_witness if witness else None  # type: ignore[attr-defined]
    node_witness = array("h")
    queue: deque[tuple[Any, int]] = deque()
    initial: list[int] = []
    initial_seen: set[int] = set()
    generated = 0
    stuttering = 0
    stopped_by: str | None = None
    reduced = False

    def add(state: Any, key: Hashable, source: int, steps: int, element: int = 0) -> int:
        number = len(keys)
        node_witness.append(element)
        ids[key] = number
        keys.append(key)
        parent.append(source)
        depth.append(steps)
        for holds, column in checks:
            column.append(1 if holds(state) else 0)
        queue.append((state, number))
        return number

    gc_was_enabled = gc.isenabled()
    # As in the engine: states are acyclic tuples, and the collector would only walk them.
    gc.disable()
    try:
        for state in model.init_states():
            generated += 1
            if within(state):
                element = 0
                if witness_of is not None:
                    canon, element = witness_of(state)
                else:
                    canon = canonical(state)
                reduced = reduced or canon != state
                key = keyof(canon if symmetry else state)
                number = ids.get(key)
                if number is None:
                    number = add(state, key, -1, 0, element)
                if number not in initial_seen:
                    initial_seen.add(number)
                    initial.append(number)
        tick = _TICK
        expanded = 0
        while expanded < len(keys):
            if len(keys) >= limit:
                stopped_by = "max_states"
                break
            tick -= 1
            if not tick:
                tick = _TICK
                now = perf_counter()
                if now >= deadline:
                    stopped_by = "max_seconds"
                    break
                if progress is not None and now >= next_report:
                    next_report = now + progress_interval
                    deepest = depth[len(keys) - 1] + 1
                    progress(
                        Snapshot(generated, len(keys), len(keys) - expanded, deepest, now - start)
                    )
            state, number = queue.popleft()
            expanded += 1
            offsets.append(len(log))
            steps = depth[number] + 1
            target = log.target
            label_column = log.label
            witness_column = log.columns[-1]
            for label, succ in successors(state):
                generated += 1
                lid = label_ids.get(label)
                if lid is None:
                    lid = label_ids[label] = len(labels)
                    labels.append(label)
                    keep_beyond.append(beyond_actions is None or label[0] in beyond_actions)
                if within(succ):
                    if witness_of is not None:
                        canon, element = witness_of(succ)
                        if not reduced and canon is not succ and canon != succ:
                            reduced = True
                        key = keyof(canon)
                        to = ids.get(key)
                        if to is None:
                            to = add(succ, key, number, steps, element)
                        elif to == number and succ == state:
                            stuttering += 1
                            continue
                        target.append(to)
                        witness_column.append(element)
                        label_column.append(lid)
                        continue
                    if symmetry:
                        canon = canonical(succ)
                        if not reduced and canon is not succ and canon != succ:
                            reduced = True
                        key = keyof(canon)
                    else:
                        if not reduced:
                            canon = canonical(succ)
                            reduced = canon is not succ and canon != succ
                        key = keyof(succ)
                    to = ids.get(key)
                    if to is None:
                        to = add(succ, key, number, steps)
                    elif to == number and succ == state:
                        stuttering += 1
                        continue
                    target.append(to)
                elif keep_beyond[lid]:
                    target.append(BEYOND)
                    if witness_of is not None:
                        witness_column.append(0)
                else:
                    continue
                label_column.append(lid)
            log.spill_if_full()
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    finally:
        if gc_was_enabled:
            gc.enable()
    return _assemble(
        log, keys, initial, parent, depth, offsets, labels, values,
        generated=generated, stuttering=stuttering, symmetry=symmetry, reduced=reduced,
        stopped_by=stopped_by, seconds=perf_counter() - start,
        node_witness=node_witness if witness else None,
    )


def _assemble(
    log: _EdgeLog,
    keys: list[Hashable],
    initial: list[int],
    parent: array[int],
    depth: array[int],
    offsets: array[int],
    labels: list[Label],
    values: list[bytearray],
    *,
    generated: int,
    stuttering: int,
    symmetry: bool,
    reduced: bool,
    stopped_by: str | None,
    seconds: float,
    node_witness: array[int] | None = None,
) -> StateGraph:
    """The explored states and steps as a :class:`StateGraph` of numpy columns."""
    # States found but never expanded (an early stop) get no steps.
    while len(offsets) <= len(keys):
        offsets.append(len(log))
    log.even_up()
    on_disk = log.spilled
    columns, keep = log.finish()
    target_col, label_col = columns[0], columns[1]
    n = len(keys)
    if node_witness is not None:
        del node_witness[n:]
    return StateGraph(
        keys=keys,
        initial=np.array(initial, dtype=np.int32),
        parent=np.frombuffer(parent, dtype=np.int32) if n else np.zeros(0, np.int32),
        depth=np.frombuffer(depth, dtype=np.int32) if n else np.zeros(0, np.int32),
        offsets=np.frombuffer(offsets, dtype=np.int64),
        target=target_col,
        label=label_col,
        labels=labels,
        values=(
            np.array([np.frombuffer(v, dtype=np.uint8) for v in values], dtype=bool).reshape(
                len(values), n
            )
        ),
        generated=generated,
        stuttering=stuttering,
        edges_on_disk=on_disk,
        symmetry=symmetry,
        reducible=reduced,
        stopped_by=stopped_by,
        seconds=seconds,
        step_witness=columns[2] if node_witness is not None else None,
        node_witness=None if node_witness is None else np.array(node_witness, dtype=np.int16),
        _keep=[*keep, parent, depth, offsets],
    )


def spill_directory(path: str | None) -> str:
    """Where spilled steps go: ``path``, or the system's temporary directory."""
    if path is not None and not os.path.isdir(path):
        raise ValueError(f"spill directory {path!r} does not exist")
    return path or tempfile.gettempdir()
