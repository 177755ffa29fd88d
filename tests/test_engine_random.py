"""Random small models: both stores agree with each other and with a brute-force computation.

The brute force shares nothing with the engine: reachability is a fixpoint over sets, and
distances come from Bellman-Ford style relaxation, not from a queue.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import replay
from toy_models import graph, tokens


def brute_force(nodes, edges, inits, oob):
    """(distinct, generated, depth, dist) by fixpoint: what the engine should report."""
    out = {n: [dst for src, dst, _ in edges if src == n] for n in range(nodes)}
    reach = {n for n in inits if n not in oob}
    while True:
        more = {d for n in reach for d in out[n] if d not in oob} - reach
        if not more:
            break
        reach |= more
    generated = len(inits) + sum(len(out[n]) for n in reach)
    dist = {n: 1 for n in reach if n in inits}
    for _ in range(nodes):
        for n in reach:
            for d in out[n]:
                if d in reach and n in dist and dist.get(d, 10**9) > dist[n] + 1:
                    dist[d] = dist[n] + 1
    depth = max(dist.values(), default=0)
    return len(reach), generated, depth, dist


@st.composite
def graphs(draw):
    nodes = draw(st.integers(1, 12))
    node = st.integers(0, nodes - 1)
    edges = draw(st.lists(st.tuples(node, node, st.integers(0, 3)), max_size=40))
    inits = draw(st.lists(node, min_size=1, max_size=3))
    oob = draw(st.sets(node, max_size=nodes // 2))
    return nodes, edges, inits, oob


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_stores_agree_with_brute_force(g):
    nodes, edges, inits, oob = g
    distinct, generated, depth, _ = brute_force(nodes, edges, inits, oob)
    for store in ("fingerprint", "exact"):
        result = check(graph(nodes, edges, inits, oob), store=store)
        assert result.result == "ok"
        assert (result.distinct_states, result.states_generated, result.depth) == (
            distinct,
            generated,
            depth,
        ), store
        assert sum(c.enabled for c in result.coverage.values()) == generated - len(inits)


@settings(max_examples=300, deadline=None)
@given(graphs(), st.data())
def test_first_violation_is_a_shortest_one(g, data):
    nodes, edges, inits, oob = g
    bad = data.draw(st.integers(0, nodes - 1))
    _, _, _, dist = brute_force(nodes, edges, inits, oob)
    # A bad initial state is a 1-state trace; otherwise one step past the nearest in-bounds
    # state that has an edge to it (the bad state may itself be out of bounds).
    lengths = [1 for n in inits if n == bad]
    lengths += [dist[src] + 1 for src, dst, _ in edges if dst == bad and src in dist]
    lengths_by_store = []
    for store in ("fingerprint", "exact"):
        model = graph(nodes, edges, inits, oob, invariants={"NotBad": lambda s: s != bad})
        result = check(model, store=store)
        if not lengths:
            assert result.result == "ok"
            continue
        assert result.result == "violation"
        trace = result.violation.trace
        assert trace[-1][1] == bad
        assert len(trace) == min(lengths)
        replay(model, trace)
        lengths_by_store.append(len(trace))
    assert len(set(lengths_by_store)) <= 1


def orbit_counts(count, top, wrap):
    """Brute force for the token model: unreduced fixpoint, then orbits as sorted tuples."""
    unreduced = tokens(count, top, symmetry=False, wrap=wrap)
    reach = set(unreduced.init_states())
    frontier = set(reach)
    while frontier:
        frontier = {t for s in frontier for _, t in unreduced.successors(s)} - reach
        reach |= frontier
    orbits = {tuple(sorted(s)) for s in reach}
    # Out-degree is the same for every member of an orbit, since the model is symmetric.
    generated = 1 + sum(len(unreduced.successors(o)) for o in orbits)
    return len(reach), len(orbits), generated


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(0, 3), st.booleans())
def test_symmetry_reduction_counts_orbits(count, top, wrap):
    unreduced_count, orbits, generated = orbit_counts(count, top, wrap)
    plain = check(tokens(count, top, symmetry=False, wrap=wrap))
    for store in ("fingerprint", "exact"):
        reduced = check(tokens(count, top, symmetry=True, wrap=wrap), store=store)
        assert reduced.distinct_states == orbits
        assert reduced.states_generated == generated
        # Every member of an orbit is equally far from the (symmetric) initial state.
        assert reduced.depth == plain.depth
    assert plain.distinct_states == unreduced_count


@settings(max_examples=200, deadline=None)
@given(graphs(), st.data())
def test_sometimes_reached_exactly_when_reachable(g, data):
    nodes, edges, inits, oob = g
    target = data.draw(st.integers(0, nodes - 1))
    kind = data.draw(st.integers(0, 3))
    _, _, _, dist = brute_force(nodes, edges, inits, oob)
    model = graph(
        nodes,
        edges,
        inits,
        oob,
        sometimes={"Target": lambda s: s == target},
        steps={"EdgeKind": lambda s, a, t: a[1] == kind},
    )
    result = check(model)
    assert result.sometimes["Target"] == (target in dist)
    step_reachable = any(src in dist and dst not in oob and k == kind for src, dst, k in edges)
    assert result.sometimes["EdgeKind"] == step_reachable
