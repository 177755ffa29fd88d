"""``raftmc bmc``: bounded model checking of the Raft spec with Z3.

The behaviours of at most K steps are unrolled: states s0 .. sK, s0 the initial state, each
s(t+1) a successor of s(t) by the symbolic transition relation (``spec/actions_z3.py``), each
expanded state within the bounds (the explicit checker expands only those too). Depth by depth,
one incremental solver asks, under an assumption, whether the newest state breaks an invariant
or the newest step an action property. The first depth where it does is the length of a
shortest counterexample, the same length the breadth-first checker finds; the behaviour is
decoded into spec states and replayed through the explicit spec before it is shown.

The formulas are rewritten into bit-vectors (``bitvec.py``) and solved by Z3's SAT core, which
keeps what it learnt from one depth to the next. Two prunings keep one behaviour of each family
that the properties cannot tell apart: servers are first involved in the order of their ids
(symmetry), and adjacent commuting steps come in a fixed order (partial-order reduction).

Every state of the unrolling is also required to satisfy the largest inductive subset of the
known invariants and lemmas (``houdini.py``), computed first for the same parameters (and
mutant). Being inductive, it holds in every reachable state, so no behaviour is excluded and the
lengths found are unchanged; what it gives the solver is facts it would otherwise have to learn
at every depth (measured: the default bounds to depth 18 in 84 s, the 20 s of finding the
lemmas included, against 148 s without them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import z3

from ...spec.model import RaftModel
from ...spec.params import Params
from ...spec.state import init_state
from ..engine.result import Step, Violation
from ..engine.trace import replay
from . import actions as actions_z3
from .actions import SymbolicUnsupported
from .bitvec import BitVecRewriter, bv_value, choice_width, width_for
from .properties import ACTION_PROPERTIES, INVARIANTS, SOMETIMES
from .symstate import (
    Shape,
    SymState,
    concrete_state,
    concrete_values,
    within_bounds,
)

#: Why Z3 refuses --membership: its formulas count majorities of a fixed set of servers.
MEMBERSHIP_UNSUPPORTED = (
    "--membership: the Z3 formulas (prove, bmc, check --z3) count majorities of all servers; "
    "configurations that change are not encoded (docs/z3-proofs.md)"
)


def check_supported(p: Params) -> None:
    """Raise :class:`SymbolicUnsupported` (naming the flag) for options without an encoding."""
    if p.history:
        raise SymbolicUnsupported("--history: history variables have no symbolic encoding")
    if p.ghost:
        raise SymbolicUnsupported("--ghost: ghost variables have no symbolic encoding")
    if getattr(p, "membership", False):
        raise SymbolicUnsupported(MEMBERSHIP_UNSUPPORTED)
    if getattr(p, "extended", False):
        raise SymbolicUnsupported(
            "the options beyond raft.tla (--batch, --prevote, ...) have no symbolic encoding"
        )


def timeout_ms(seconds: float) -> int:
    """Z3's ``timeout`` parameter for ``seconds`` left (0 means no limit to Z3: at least 1)."""
    return max(1, int(seconds * 1000))


def timed_out(reason: str) -> bool:
    """Whether Z3's reason for "unknown" is its ``timeout`` parameter running out."""
    return "timeout" in reason or "canceled" in reason


@dataclass
class BmcResult:
    """What a bounded run found: a violation within ``depth`` steps, or none."""

    result: str  # "violation", "ok" (none within the depth) or "incomplete" (time limit)
    depth: int  # steps fully searched
    seconds: float
    violation: Violation | None = None
    #: Seconds spent on each depth's query, in order.
    per_depth: list[float] = field(default_factory=list)
    #: The shallowest depth asked about; depths below it were unrolled but not searched, so a
    #: violation found is the shortest only among behaviours of at least this many steps.
    start: int = 0
    #: The inductive invariants and lemmas required of every state, and the seconds spent
    #: finding them (part of ``seconds``).
    lemmas: list[str] = field(default_factory=list)
    lemma_seconds: float = 0.0
    #: For "incomplete": "max_seconds" or "interrupted" (Ctrl-C).
    stopped_by: str = ""


def _decode(
    states: list[SymState],
    steps: list[list[actions_z3.Step]],
    choices: list[Any],
    value: Callable[[Any], Any],
) -> list[Step]:
    trace: list[Step] = [(None, concrete_state(states[0], value))]
    for t, choice in enumerate(choices):
        step = steps[t][value(choice)]
        label = actions_z3.label_of(step, value, states[t])
        trace.append((label, concrete_state(states[t + 1], value)))
    return trace


# Actions that change one server's variables only, reading that server's variables and the
# bag (which they leave alone), and actions that only add a message to the bag, reading their
# sender's variables. Of the first, UpdateTerm reads a message of the bag addressed to its actor.
_LOCAL_ACTIONS = frozenset(
    {"Timeout", "Restart", "BecomeLeader", "ClientRequest", "AdvanceCommitIndex", "UpdateTerm"}
)
_SEND_ACTIONS = frozenset({"RequestVote", "AppendEntries"})
_READS_BAG = frozenset({"UpdateTerm"})

#: What partial-order reduction knows of a step: (actor, destination, reads the bag); a local
#: step's destination is its actor.
StepKey = tuple[int, int, bool]


def step_key(name: str, actor: int, dest: int) -> StepKey | None:
    """The key of a step of action ``name`` by ``actor`` (to ``dest`` for a send), or None for
    the steps the reduction leaves alone (handlers that consume or reply, faults)."""
    if name in _LOCAL_ACTIONS:
        return (actor, actor, name in _READS_BAG)
    if name in _SEND_ACTIONS:
        return (actor, dest, False)
    return None


def swappable(first: StepKey, second: StepKey) -> bool:
    """Whether a step keyed ``first`` followed by one keyed ``second`` can always be taken in the
    other order, from the same state to the same state: steps on different servers or two sends,
    except a send followed by a step of its receiver that reads the bag, which may read the very
    message just sent (an UpdateTerm answering a RequestVote of a higher term)."""
    first_sends, second_sends = first[0] != first[1], second[0] != second[1]
    if first[0] == second[0] and not (first_sends and second_sends):
        return False
    return not (first_sends and second[2] and first[1] == second[0])


class _Unrolling:
    """The transition relation and the properties over two template states, built and rewritten
    into bit-vectors once; each depth instantiates them by substitution (Z3's C API), which is
    much cheaper than building them again over that depth's states."""

    def __init__(
        self,
        p: Params,
        names: Sequence[str],
        reach: str | None,
        symmetry: bool,
        por: bool,
        lemmas: Sequence[str] = (),
    ) -> None:
        self.p = p
        self.shape = shape = Shape.for_params(p)
        self.symmetry, self.por = symmetry, por
        a, b = SymState.fresh(shape, "a."), SymState.fresh(shape, "b.")
        choice = z3.Int("choice")
        tr = actions_z3.transition(p, a, b, choice, merge_receivers=True)
        self.steps = tr.steps
        self.choice_width = choice_width(len(tr.steps))
        self.rewrite = rw = BitVecRewriter(width_for(shape), {"choice": self.choice_width})
        self._a = [rw(t) for t in a.terms()]
        self._b = [rw(t) for t in b.terms()]
        self._choice = rw(choice)
        self._step = rw(z3.And(within_bounds(p, a), tr.formula))
        self._lemmas = None
        if lemmas:
            from .prove import formula_of  # prove.py imports this module

            self._lemmas = rw(z3.And([formula_of(n)(a) for n in lemmas]))
        if reach is not None:
            self._invariants = [(reach, "witness", rw(SOMETIMES[reach](a)))]
        else:
            self._invariants = [(n, "invariant", rw(z3.Not(INVARIANTS[n](a)))) for n in names]
        self._actions = (
            []
            if reach is not None
            else [(n, "action", rw(z3.Not(fn(a, b)))) for n, fn in ACTION_PROPERTIES.items()]
        )
        servers = range(p.servers)
        # Which servers step k involves: the servers among its arguments, or the sender and
        # the receiver of the message in its slot.
        involved: list[list[Any]] = [[] for _ in servers]
        keys = [(i, j, False) for i in servers for j in servers]
        keys += [(i, i, True) for i in servers]
        keyed: dict[StepKey, list[Any]] = {key: [] for key in keys}
        for k, step in enumerate(self.steps):
            taken = choice == k
            if step.slot is not None:
                m = a.slots[step.slot]
                for i in servers:
                    who = z3.Or(m.mdest == i, m.msource == i)
                    involved[i].append(z3.And(taken, who))
                    key = step_key(step.name, i, i)
                    if key is not None:
                        keyed[key].append(z3.And(taken, m.mdest == i))
                continue
            mine = step.args[:1] if step.name == "ClientRequest" else step.args
            for i in set(mine):
                involved[i].append(taken)
            key = step_key(step.name, step.args[0], step.args[-1])
            if key is not None:
                keyed[key].append(taken)
        self._involved = [rw(z3.Or(x)) for x in involved]
        self._keys = keys
        self._keyed = [rw(z3.Or(keyed[key])) for key in keys]
        # Per depth, once built: the states (integer constants, for decoding), their
        # bit-vector terms, the choices, and for each server whether it has been involved.
        init = _concrete_terms(shape, concrete_values(shape, init_state(p)))
        self.states: list[SymState] = [init]
        self.bv: list[list[Any]] = [[rw(t) for t in self.states[0].terms()]]
        self.choices: list[Any] = []
        self.seen: list[list[Any]] = [[z3.BoolVal(False)] * p.servers]
        self.keyed: list[list[Any]] = []
        self.involved: list[list[Any]] = []

    def _at(self, formula: Any, t: int, after: bool = False, choice: bool = False) -> Any:
        pairs = list(zip(self._a, self.bv[t], strict=True))
        if after:
            pairs += list(zip(self._b, self.bv[t + 1], strict=True))
        if choice:
            pairs.append((self._choice, self._choice_at(t)))
        return z3.substitute(formula, *pairs)

    def _choice_at(self, t: int) -> Any:
        return z3.BitVec(f"choice{t}", self.choice_width)

    def broken(self) -> list[tuple[str, str, Any]]:
        """What the newest state (or step) may break: (property, kind, bit-vector formula)."""
        d = len(self.states) - 1
        out = [(n, k, self._at(f, d)) for n, k, f in self._invariants]
        if d > 0:
            out += [(n, k, self._at(f, d - 1, after=True)) for n, k, f in self._actions]
        return out

    def extend(self) -> list[Any]:
        """Add a step from the newest state to a new one; returns the constraints it adds."""
        t = len(self.states) - 1
        nxt = SymState.fresh(self.shape, f"s{t + 1}.")
        self.rewrite.widths[f"choice{t}"] = self.choice_width
        self.states.append(nxt)
        self.bv.append([self.rewrite(x) for x in nxt.terms()])
        self.choices.append(z3.Int(f"choice{t}"))
        out = [self._at(self._step, t, after=True, choice=True)]
        if self._lemmas is not None:
            out.append(self._at(self._lemmas, t + 1))
        involved = [self._at(x, t, choice=True) for x in self._involved]
        before = self.seen[t]
        if self.symmetry:
            # Servers are interchangeable (the initial state, the actions and the properties
            # treat them alike), so every behaviour can be renamed so that servers are first
            # involved in the order of their ids. Demanding it prunes the others.
            for i in range(self.p.servers - 1):
                out.append(z3.Implies(involved[i + 1], z3.Or(before[i], involved[i])))
        self.seen.append([z3.Or(x, y) for x, y in zip(before, involved, strict=True)])
        self.keyed.append([self._at(x, t, choice=True) for x in self._keyed])
        self.involved.append(involved)
        if self.por and t >= 2:
            # Two commuting steps whose servers were all involved before: keep only the order
            # with the lower key first (swapping them changes no first involvement, so the
            # renaming above still holds). The pair of steps t-2, t-1 is constrained only now
            # that state t is expanded, hence within the bounds: the state between the two steps
            # of the swapped order then is too (its servers are those of states t-2 and t, its
            # bag between theirs, as the steps only add messages).
            first, second, seen = self.keyed[t - 2], self.keyed[t - 1], self.seen[t - 2]
            pairs = zip(self.involved[t - 2], self.involved[t - 1], seen, strict=True)
            known = z3.And([z3.Implies(z3.Or(a, b), s) for a, b, s in pairs])
            for x, kx in enumerate(self._keys):
                for y, ky in enumerate(self._keys):
                    if ky < kx and swappable(kx, ky):
                        out.append(z3.Not(z3.And(first[x], second[y], known)))
        return out


def _concrete_terms(shape: Shape, values: Sequence[Any]) -> SymState:
    return SymState(shape).with_terms(
        [z3.BoolVal(v) if isinstance(v, bool) else z3.IntVal(v) for v in values]
    )


def bmc(
    p: Params,
    depth: int,
    *,
    invariants: Sequence[str] | None = None,
    reach: str | None = None,
    max_seconds: float | None = None,
    progress: Callable[[int, float], None] | None = None,
    symmetry: bool = True,
    por: bool = True,
    start: int = 0,
    strengthen: bool = True,
    lemmas_found: Callable[[list[str], float], None] | None = None,
) -> BmcResult:
    """Search for a behaviour of at most ``depth`` steps that breaks a property.

    ``invariants`` defaults to every invariant with a Z3 formula; the action properties are
    always checked. With ``reach`` (a sometimes property, e.g. "LeaderElected") the search is
    for a shortest behaviour reaching it instead, reported as a violation of kind "witness".
    ``progress(depth, seconds)`` is called after each depth is done. ``symmetry`` and ``por``
    turn off the two prunings (for measuring them); neither changes what is found.

    ``start`` skips the questions below that depth: the unrolling still goes through them, but
    no solver call asks whether they break anything. The unsatisfiable depths are what costs
    (each about twice the one before), so a user who already knows that nothing breaks in fewer
    than ``start`` steps (from a breadth-first run, say) reaches a deep counterexample far
    sooner; but the trace found is then shortest only among those of at least ``start`` steps.

    ``max_seconds`` bounds the whole run, the lemma search and a query in progress included;
    when it runs out the result is "incomplete" with ``depth`` the last depth answered (-1 if
    none was).

    ``strengthen`` requires every state to satisfy the largest inductive subset of the known
    invariants and lemmas (see the module doc); off, the unrolling is the bare relation.
    ``lemmas_found(names, seconds)`` is called when they are known, before the first depth (the
    search for them can take minutes on large bounds).
    """
    check_supported(p)
    if not 0 <= start <= depth:
        raise ValueError(f"start must be between 0 and the depth {depth} (got {start})")
    names = list(invariants) if invariants is not None else list(INVARIANTS)
    t_start = perf_counter()
    # The limit holds inside a query too: one depth can take longer than all before it.
    deadline = t_start + max_seconds if max_seconds is not None else None
    lemmas: list[str] = []
    per_depth: list[float] = []
    lemma_seconds = 0.0

    def incomplete(why: str) -> BmcResult:
        # The depths whose question was answered (or skipped); -1 if stopped before depth 0.
        done = len(per_depth) - 1
        return BmcResult(
            "incomplete", done, perf_counter() - t_start, None, per_depth, start, lemmas,
            lemma_seconds, why,
        )

    # Ctrl-C ends the run with a result wherever it lands (the lemma search, building the
    # unrolling, a query), as the time limit does, so --json still prints one object.
    try:
        if strengthen:
            from .houdini import inductive_subset

            try:
                lemmas = inductive_subset(p, deadline=deadline).kept
            except TimeoutError:
                lemma_seconds = perf_counter() - t_start
                return incomplete("max_seconds")
            except KeyboardInterrupt:
                lemma_seconds = perf_counter() - t_start
                return incomplete("interrupted")
        lemma_seconds = perf_counter() - t_start
        if strengthen and lemmas_found is not None:
            lemmas_found(lemmas, lemma_seconds)
        u = _Unrolling(p, names, reach, symmetry, por, lemmas)
        solver = z3.SolverFor("QF_BV")
        for d in range(depth + 1):
            if deadline is not None:
                left = deadline - perf_counter()
                if left <= 0:
                    return incomplete("max_seconds")
                solver.set("timeout", timeout_ms(left))
            t0 = perf_counter()
            if d < start:
                solver.add(u.extend())
                per_depth.append(perf_counter() - t0)
                continue
            broken = u.broken()
            bad = z3.Or([b for _, _, b in broken])
            if d == start == depth:
                # The only question: asked without an assumption, Z3 solves it as a one-off query
                # with its full preprocessing. Measured: entry-term-is-current-term at depth 24 in
                # 647 s this way; under an assumption it had not answered after 25 minutes.
                solver.add(bad)
                outcome = solver.check()
            else:
                goal = z3.Bool(f"goal{d}")
                solver.add(z3.Implies(goal, bad))
                outcome = solver.check(goal)
            if outcome == z3.sat:
                model = solver.model()
                value = bv_value(model, u.rewrite)
                trace = _decode(u.states, [u.steps] * d, u.choices, value)
                name, kind = next(
                    (n, k) for n, k, b in broken if z3.is_true(model.eval(b, model_completion=True))
                )
                replay(RaftModel(p, symmetry=False), trace)
                per_depth.append(perf_counter() - t0)
                return BmcResult(
                    "violation",
                    d,
                    perf_counter() - t_start,
                    Violation(name, kind, trace),
                    per_depth,
                    start,
                    lemmas,
                    lemma_seconds,
                )
            if outcome != z3.unsat:
                why = solver.reason_unknown()
                if "interrupted" in why:  # Ctrl-C reached Z3 mid-query
                    return incomplete("interrupted")
                if deadline is not None and timed_out(why):
                    return incomplete("max_seconds")
                raise RuntimeError(f"Z3 returned {outcome} at depth {d}: {why}")
            # Nothing breaks at depth d in any behaviour: say so, so later depths need not
            # rediscover it.
            solver.add(z3.Not(bad))
            if d < depth:
                solver.add(u.extend())
            per_depth.append(perf_counter() - t0)
            if progress is not None:
                progress(d, perf_counter() - t_start)
    except KeyboardInterrupt:
        return incomplete("interrupted")
    return BmcResult(
        "ok", depth, perf_counter() - t_start, None, per_depth, start, lemmas, lemma_seconds
    )
